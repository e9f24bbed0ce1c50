// loadgen: a small HTTP/1.1 keep-alive load generator for Conveyor (see bench/README.md).
//
// One asio event loop (one thread by default), N connections, each with exactly one request in
// flight. Latencies are kept individually (µs) and reported as percentiles, never as averages.
// Every 201 answer's job id(s) are written with the wall-clock time of the answer, so that the
// caller can check them against the database (count check, answered -> done latency).
//
// Modes
//   submit  closed loop: POST /jobs, one noop job per request, for --duration seconds
//   batch   closed loop: POST /jobs/batch with --batch-size jobs per request
//   rate    open loop: POST /jobs at --rate requests/s for --duration s (or --count requests);
//           latency is measured from the *intended* send time (no coordinated omission) and,
//           separately, from the actual send time (service time)
//   pickup  rate mode with the pickup defaults: 1 connection, 200 jobs, 20 ms apart
//
// Output: a JSON summary on stdout (or --json-out FILE); --ids-out FILE gets one line per job:
//   <job id> TAB <answered, unix µs> TAB <request latency µs>
#include <asio.hpp>

#include <sys/resource.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

namespace {

struct Options {
    std::string mode = "submit";
    std::string host = "127.0.0.1";
    int port = 3000;
    std::string path; // default by mode
    std::string body; // default by mode
    std::string job_type = "noop";
    std::string run_at; // when set, every job gets "run_at" (e.g. far future: enqueue only)
    std::string token;  // Authorization: Bearer
    int connections = -1;
    int threads = 1;
    double duration = 10;
    double warmup = 0;
    double rate = 0;
    long count = 0;
    int batch_size = 1000;
    double drain_timeout = 15;
    std::string ids_out;
    std::string json_out;
    bool webhook_sink = false;
    // sse mode
    int subscribers = 100;
    long expect_events = 0; // per subscriber; stop when every subscriber has this many
    double idle_stop = 5;   // or when no event arrived for this long (after the first)
    std::string ready_file; // touched once every subscriber got its response headers  //
                            // rate/pickup: submit webhook jobs that call back into loadgen
};

[[noreturn]] void usage(const char* msg) {
    if (msg)
        std::fprintf(stderr, "loadgen: %s\n", msg);
    std::fprintf(
        stderr,
        "usage: loadgen MODE [options]   MODE = submit | batch | rate | pickup | sse | sink\n"
        "  --url http://127.0.0.1:PORT   (or --host H --port P)\n"
        "  --connections N   --threads T (closed-loop modes only)\n"
        "  --duration S      --warmup S (answers in the first S seconds are not timed)\n"
        "  --rate R          --count N (rate/pickup)\n"
        "  --batch-size N    --job-type T   --run-at RFC3339   --token TOKEN\n"
        "  --path P --body JSON (override the request)\n"
        "  --drain-timeout S (wait for in-flight requests at the end)\n"
        "  --ids-out FILE    --json-out FILE\n"
        "  sse mode: loadgen sse --subscribers M [--expect-events E] [--duration MAX_S] "
        "[--idle-stop S]\n"
        "                    [--ready-file F] [--path /events?...]: M GET /events streams; "
        "per-event\n"
        "                    delivery latency = arrival - the event's updated_at (ms resolution)\n"
        "  sink mode: loadgen sink --port P [--duration S]: a minimal HTTP server answering 200, "
        "to\n"
        "                    measure loadgen's own ceiling (loadgen submit --url "
        "http://127.0.0.1:P)\n"
        "  --webhook-sink    (rate/pickup) submit webhook jobs calling a sink inside loadgen:\n"
        "                    reports answered -> handler start (webhook request arrival)\n");
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (argc < 2)
        usage(nullptr);
    o.mode = argv[1];
    if (o.mode == "-h" || o.mode == "--help")
        usage(nullptr);
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--url") {
            std::string u = val();
            const std::string pre = "http://";
            if (u.compare(0, pre.size(), pre) == 0)
                u = u.substr(pre.size());
            auto slash = u.find('/');
            if (slash != std::string::npos)
                u = u.substr(0, slash);
            auto colon = u.rfind(':');
            if (colon == std::string::npos)
                usage("--url needs a port");
            o.host = u.substr(0, colon);
            o.port = std::atoi(u.c_str() + colon + 1);
        } else if (a == "--host")
            o.host = val();
        else if (a == "--port")
            o.port = std::atoi(val().c_str());
        else if (a == "--path")
            o.path = val();
        else if (a == "--body")
            o.body = val();
        else if (a == "--job-type")
            o.job_type = val();
        else if (a == "--run-at")
            o.run_at = val();
        else if (a == "--token")
            o.token = val();
        else if (a == "--connections")
            o.connections = std::atoi(val().c_str());
        else if (a == "--threads")
            o.threads = std::atoi(val().c_str());
        else if (a == "--duration")
            o.duration = std::atof(val().c_str());
        else if (a == "--warmup")
            o.warmup = std::atof(val().c_str());
        else if (a == "--rate")
            o.rate = std::atof(val().c_str());
        else if (a == "--count")
            o.count = std::atol(val().c_str());
        else if (a == "--batch-size")
            o.batch_size = std::atoi(val().c_str());
        else if (a == "--drain-timeout")
            o.drain_timeout = std::atof(val().c_str());
        else if (a == "--ids-out")
            o.ids_out = val();
        else if (a == "--json-out")
            o.json_out = val();
        else if (a == "--webhook-sink")
            o.webhook_sink = true;
        else if (a == "--subscribers")
            o.subscribers = std::atoi(val().c_str());
        else if (a == "--expect-events")
            o.expect_events = std::atol(val().c_str());
        else if (a == "--idle-stop")
            o.idle_stop = std::atof(val().c_str());
        else if (a == "--ready-file")
            o.ready_file = val();
        else
            usage(("unknown option " + a).c_str());
    }
    if (o.mode == "pickup") {
        if (o.connections < 0)
            o.connections = 1;
        if (o.rate <= 0)
            o.rate = 50;
        if (o.count <= 0)
            o.count = 200;
        o.duration = 0;
    }
    if (o.mode == "sink") {
        if (o.duration <= 0)
            o.duration = 60;
        return o;
    }
    if (o.mode == "sse") {
        if (o.path.empty())
            o.path = "/events";
        if (o.duration <= 0)
            o.duration = 60;
        o.connections = std::max(1, o.subscribers);
        o.threads = 1;
        return o;
    }
    if (o.mode != "submit" && o.mode != "batch" && o.mode != "rate" && o.mode != "pickup")
        usage("unknown mode");
    if ((o.mode == "rate") && o.rate <= 0)
        usage("rate mode needs --rate");
    if (o.connections < 0)
        o.connections = (o.mode == "batch") ? 4 : (o.mode == "rate" ? 32 : 50);
    if (o.connections < 1 || o.threads < 1 || o.port <= 0)
        usage("bad --connections/--threads/--port");
    if (o.mode == "rate" || o.mode == "pickup")
        o.threads = 1;
    o.threads = std::min(o.threads, o.connections);
    if (o.batch_size < 1)
        usage("bad --batch-size");
    return o;
}

std::string job_json(const Options& o, long i) {
    std::string s = "{\"job_type\":\"" + o.job_type + "\",\"payload\":{}";
    (void)i;
    if (!o.run_at.empty())
        s += ",\"run_at\":\"" + o.run_at + "\"";
    return s + "}";
}

std::string build_request(const Options& o) {
    std::string path = o.path, body = o.body;
    if (path.empty())
        path = (o.mode == "batch") ? "/jobs/batch" : "/jobs";
    if (body.empty()) {
        if (o.mode == "batch") {
            body = "{\"jobs\":[";
            for (int i = 0; i < o.batch_size; ++i) {
                if (i)
                    body += ',';
                body += job_json(o, i);
            }
            body += "]}";
        } else {
            body = job_json(o, 0);
        }
    }
    std::string r = "POST " + path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                    "\r\nContent-Type: application/json\r\nAccept: application/json\r\n";
    if (!o.token.empty())
        r += "Authorization: Bearer " + o.token + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return r;
}

// One timed request.
struct Sample {
    uint32_t done_ms; // completion, ms since the start of the run
    uint32_t lat_us;  // from intended (rate) or actual (closed loop) send
    uint32_t svc_us;  // from actual send
    uint16_t status;
};

struct IdRecord {
    std::string id;
    int64_t answered_us;
    uint32_t lat_us;
};

// State shared by every connection of one event loop.
struct Loop {
    asio::io_context io{1};
    const Options* opt = nullptr;
    std::string request;
    std::vector<std::string> requests;                   // per-request (webhook sink mode)
    std::vector<Clock::time_point> answered_at, hook_at; // per request index (webhook sink mode)
    long answered_201 = 0, hooks = 0, hook_dups = 0;
    Clock::time_point t0, warm_end, deadline;
    int64_t sys0_us = 0; // wall clock at t0, unix µs
    bool stopping = false;
    int in_flight = 0;
    std::vector<Sample> samples;
    std::vector<IdRecord> ids;
    std::map<int, long> statuses;
    long conn_errors = 0, parse_errors = 0, reconnects = 0;
    long idle_closed = 0; // keep-alive connections the server had closed while they were idle
    long completed_in_window = 0; // answers between warm_end and deadline
    long jobs_in_window = 0;
    // open loop
    long issued = 0;
    std::deque<std::pair<Clock::time_point, long>> backlog;
    size_t max_backlog = 0;
    std::vector<struct Conn*> idle;
    std::unique_ptr<asio::steady_timer> pace, stop_timer, hard_timer;
    tcp::endpoint ep;

    int64_t unix_us(Clock::time_point t) const {
        return sys0_us + std::chrono::duration_cast<std::chrono::microseconds>(t - t0).count();
    }
};

// Scan a response body for job ids: every  "id" : "<value>"  (payloads of bench jobs are {}).
void extract_ids(const char* b, size_t n, Loop& L, int64_t answered_us, uint32_t lat_us) {
    static const char key[] = "\"id\"";
    const char* end = b + n;
    const char* p = b;
    while (p < end) {
        const char* k = static_cast<const char*>(memmem(p, end - p, key, 4));
        if (!k)
            break;
        const char* q = k + 4;
        while (q < end && (*q == ' ' || *q == '\t'))
            ++q;
        if (q < end && *q == ':') {
            ++q;
            while (q < end && (*q == ' ' || *q == '\t'))
                ++q;
            if (q < end && *q == '"') {
                ++q;
                const char* e = static_cast<const char*>(memchr(q, '"', end - q));
                if (!e)
                    break;
                L.ids.push_back({std::string(q, e), answered_us, lat_us});
                p = e + 1;
                continue;
            }
        }
        p = k + 4;
    }
}

struct Conn {
    Loop& L;
    tcp::socket sock;
    std::vector<char> buf;
    size_t len = 0;
    size_t scanned = 0;
    size_t head_len = 0; // known once the header end was found
    Clock::time_point sent, intended;
    bool busy = false;
    uint64_t gen = 0; // request generation: handlers of an abandoned request are ignored

    explicit Conn(Loop& l) : L(l), sock(l.io), buf(64 * 1024) {}

    bool connect() {
        asio::error_code ec;
        if (sock.is_open())
            sock.close(ec);
        sock.connect(L.ep, ec);
        if (ec)
            return false;
        sock.set_option(tcp::no_delay(true), ec);
        return true;
    }

    long idx = 0;

    // Whether the server closed this idle connection (its HTTP_READ_TIMEOUT_S ends idle keep-alive
    // connections): EOF, an error, or bytes nobody asked for are waiting. As curl and browsers
    // do, such a connection is not reused: a request written into it would be answered by a reset
    // and count as unanswered though the server never saw it.
    bool peer_closed() {
        char c;
        ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }

    void start(Clock::time_point intended_at, long index = 0) {
        if (sock.is_open() && peer_closed()) {
            ++L.idle_closed;
            if (!connect())
                ++L.conn_errors;
        }
        idx = index;
        busy = true;
        ++gen;
        ++L.in_flight;
        intended = intended_at;
        sent = Clock::now();
        len = 0;
        scanned = 0;
        head_len = 0;
        asio::async_write(sock, asio::buffer(L.requests.empty() ? L.request : L.requests[idx]),
                          [this, g = gen](const asio::error_code& ec, size_t) {
                              if (ec && g == gen)
                                  fail();
                          });
        read_more();
    }

    void read_more() {
        if (len == buf.size())
            buf.resize(buf.size() * 2);
        sock.async_read_some(asio::buffer(buf.data() + len, buf.size() - len),
                             [this, g = gen](const asio::error_code& ec, size_t n) {
                                 if (g != gen || !busy)
                                     return;
                                 if (ec)
                                     return fail();
                                 len += n;
                                 on_data();
                             });
    }

    void on_data() {
        const char* b = buf.data();
        if (head_len == 0) {
            size_t from = scanned > 3 ? scanned - 3 : 0;
            const char* he = static_cast<const char*>(memmem(b + from, len - from, "\r\n\r\n", 4));
            if (!he) {
                scanned = len;
                return read_more();
            }
            head_len = he - b + 4;
        }
        if (len < 12 || std::memcmp(b, "HTTP/1.", 7) != 0)
            return bad_response();
        int status = std::atoi(b + 9);
        long clen = -1;
        bool close_after = false;
        // headers, case-insensitively
        const char* line = static_cast<const char*>(memchr(b, '\n', head_len)) + 1;
        while (line < b + head_len - 2) {
            const char* eol = static_cast<const char*>(memchr(line, '\n', b + head_len - line));
            if (!eol)
                break;
            size_t ll = eol - line;
            if (ll > 15 && strncasecmp(line, "content-length:", 15) == 0)
                clen = std::atol(line + 15);
            else if (ll > 11 && strncasecmp(line, "connection:", 11) == 0) {
                const char* v = line + 11;
                while (*v == ' ')
                    ++v;
                if (strncasecmp(v, "close", 5) == 0)
                    close_after = true;
            } else if (ll > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
                return bad_response(); // never sent by Conveyor for these routes
            }
            line = eol + 1;
        }
        if (clen < 0)
            return bad_response();
        size_t total = head_len + static_cast<size_t>(clen);
        if (len < total) {
            if (total > buf.size())
                buf.resize(total);
            return read_more();
        }
        complete(status, b + head_len, static_cast<size_t>(clen), close_after);
    }

    void complete(int status, const char* body, size_t body_len, bool close_after) {
        auto now = Clock::now();
        busy = false;
        --L.in_flight;
        auto lat = std::chrono::duration_cast<std::chrono::microseconds>(now - intended).count();
        auto svc = std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count();
        auto done_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - L.t0).count();
        L.statuses[status]++;
        size_t before = L.ids.size();
        if (status == 201 && !L.answered_at.empty()) {
            L.answered_at[idx] = now;
            ++L.answered_201;
        }
        if (status == 201)
            extract_ids(body, body_len, L, L.unix_us(now), static_cast<uint32_t>(lat));
        if (sent >= L.warm_end) {
            L.samples.push_back({static_cast<uint32_t>(std::max<int64_t>(0, done_ms)),
                                 static_cast<uint32_t>(lat), static_cast<uint32_t>(svc),
                                 static_cast<uint16_t>(status)});
        }
        if (now >= L.warm_end && now <= L.deadline) {
            ++L.completed_in_window;
            L.jobs_in_window += static_cast<long>(L.ids.size() - before);
        }
        if (close_after) {
            ++L.reconnects;
            if (!connect())
                ++L.conn_errors;
        }
        next();
    }

    void next() {
        if (!sock.is_open())
            return maybe_finish();
        if (L.opt->mode == "submit" || L.opt->mode == "batch") {
            if (!L.stopping && Clock::now() < L.deadline)
                return start(Clock::now());
        } else if (!L.backlog.empty()) {
            auto t = L.backlog.front();
            L.backlog.pop_front();
            return start(t.first, t.second);
        } else {
            L.idle.push_back(this);
        }
        maybe_finish();
    }

    void maybe_finish() {
        if (L.stopping && L.in_flight == 0 && L.backlog.empty() && L.hooks >= L.answered_201)
            L.io.stop();
    }

    void bad_response() {
        ++L.parse_errors;
        fail();
    }

    void fail() {
        if (!busy)
            return;
        busy = false;
        --L.in_flight;
        ++L.conn_errors;
        ++L.reconnects;
        L.statuses[0]++; // 0 = no answer
        if (!connect()) {
            asio::error_code ec;
            sock.close(ec);
        }
        next();
    }
};

// The webhook sink: answers 200 to every request; POST /hook/<index> records the first arrival.
struct SinkConn : std::enable_shared_from_this<SinkConn> {
    Loop& L;
    tcp::socket sock;
    std::vector<char> buf = std::vector<char>(16 * 1024);
    size_t len = 0;
    static constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    SinkConn(Loop& l, tcp::socket s) : L(l), sock(std::move(s)) {}

    void read() {
        if (len == buf.size())
            buf.resize(buf.size() * 2);
        auto self = shared_from_this();
        sock.async_read_some(asio::buffer(buf.data() + len, buf.size() - len),
                             [self](const asio::error_code& ec, size_t n) {
                                 if (ec)
                                     return;
                                 self->len += n;
                                 self->parse();
                             });
    }
    void parse() {
        auto now = Clock::now();
        for (;;) {
            const char* b = buf.data();
            const char* he = static_cast<const char*>(memmem(b, len, "\r\n\r\n", 4));
            if (!he)
                return read();
            size_t head = he - b + 4;
            long clen = 0;
            for (const char* p = b; p < he;) {
                const char* eol = static_cast<const char*>(memchr(p, '\n', he - p));
                if (!eol)
                    break;
                if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0)
                    clen = std::atol(p + 15);
                p = eol + 1;
            }
            if (len < head + clen)
                return read();
            const char* h = static_cast<const char*>(memmem(b, head, "/hook/", 6));
            if (h) {
                long i = std::atol(h + 6);
                if (i >= 0 && static_cast<size_t>(i) < L.hook_at.size()) {
                    if (L.hook_at[i] == Clock::time_point{}) {
                        L.hook_at[i] = now;
                        ++L.hooks;
                    } else {
                        ++L.hook_dups;
                    }
                }
            }
            std::memmove(buf.data(), b + head + clen, len - head - clen);
            len -= head + clen;
            auto self = shared_from_this();
            asio::async_write(sock, asio::buffer(kOk, std::strlen(kOk)),
                              [self](const asio::error_code&, size_t) {});
            if (L.stopping && L.in_flight == 0 && L.backlog.empty() && L.hooks >= L.answered_201)
                L.io.stop();
            if (len == 0)
                return read();
        }
    }
};

void sink_accept(Loop& L, tcp::acceptor& acc) {
    acc.async_accept([&L, &acc](const asio::error_code& ec, tcp::socket s) {
        if (ec)
            return;
        asio::error_code e2;
        s.set_option(tcp::no_delay(true), e2);
        std::make_shared<SinkConn>(L, std::move(s))->read();
        sink_accept(L, acc);
    });
}

void run_loop(Loop& L, int nconn, std::vector<std::unique_ptr<Conn>>& conns) {
    const Options& o = *L.opt;
    for (int i = 0; i < nconn; ++i) {
        auto c = std::make_unique<Conn>(L);
        if (!c->connect()) {
            std::fprintf(stderr, "loadgen: cannot connect to %s:%d\n", o.host.c_str(), o.port);
            std::exit(1);
        }
        conns.push_back(std::move(c));
    }
    bool open_loop = (o.mode == "rate" || o.mode == "pickup");
    if (!open_loop) {
        for (auto& c : conns)
            c->start(Clock::now());
    } else {
        for (auto& c : conns)
            L.idle.push_back(c.get());
        L.pace = std::make_unique<asio::steady_timer>(L.io);
        auto period = std::chrono::duration<double>(1.0 / o.rate);
        long limit = o.count > 0 ? o.count : static_cast<long>(std::floor(o.duration * o.rate));
        std::shared_ptr<std::function<void()>> tick = std::make_shared<std::function<void()>>();
        *tick = [&L, period, limit, tick]() {
            auto now = Clock::now();
            while (L.issued < limit) {
                auto due = L.t0 + std::chrono::duration_cast<Clock::duration>(period * L.issued);
                if (due > now)
                    break;
                long index = L.issued++;
                if (!L.idle.empty()) {
                    Conn* c = L.idle.back();
                    L.idle.pop_back();
                    c->start(due, index);
                } else {
                    L.backlog.push_back({due, index});
                    L.max_backlog = std::max(L.max_backlog, L.backlog.size());
                }
            }
            if (L.issued >= limit) {
                L.stopping = true;
                L.deadline = Clock::now();
                if (L.in_flight == 0 && L.backlog.empty() && L.hooks >= L.answered_201)
                    L.io.stop();
                return;
            }
            L.pace->expires_at(L.t0 +
                               std::chrono::duration_cast<Clock::duration>(period * L.issued));
            L.pace->async_wait([tick](const asio::error_code& ec) {
                if (!ec)
                    (*tick)();
            });
        };
        (*tick)();
    }
    if (!open_loop) {
        L.stop_timer = std::make_unique<asio::steady_timer>(L.io, L.deadline);
        L.stop_timer->async_wait([&L](const asio::error_code&) {
            L.stopping = true;
            if (L.in_flight == 0)
                L.io.stop();
        });
    }
    // Hard limit: the whole run plus the drain timeout.
    double total =
        (open_loop ? (o.count > 0 ? o.count / o.rate : o.duration) : o.duration) + o.drain_timeout;
    L.hard_timer = std::make_unique<asio::steady_timer>(
        L.io,
        L.t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(total)));
    L.hard_timer->async_wait([&L](const asio::error_code& ec) {
        if (!ec)
            L.io.stop();
    });
    L.io.run();
}

double pct(const std::vector<uint32_t>& s, double p) { // nearest rank, ascending input
    if (s.empty())
        return 0;
    size_t k = static_cast<size_t>(std::ceil(p / 100.0 * s.size()));
    k = std::max<size_t>(1, std::min(k, s.size()));
    return s[k - 1];
}

nlohmann::json lat_stats(std::vector<uint32_t> v) {
    std::sort(v.begin(), v.end());
    auto ms = [](double us) { return std::round(us / 10.0) / 100.0; };
    nlohmann::json j;
    j["n"] = v.size();
    if (v.empty())
        return j;
    j["min_ms"] = ms(v.front());
    j["p50_ms"] = ms(pct(v, 50));
    j["p90_ms"] = ms(pct(v, 90));
    j["p95_ms"] = ms(pct(v, 95));
    j["p99_ms"] = ms(pct(v, 99));
    j["p999_ms"] = ms(pct(v, 99.9));
    j["max_ms"] = ms(v.back());
    // log-spaced histogram: upper bounds in ms, 4 buckets per power of 10
    nlohmann::json h = nlohmann::json::array();
    size_t i = 0;
    for (double ub = 0.1; i < v.size(); ub *= std::pow(10.0, 0.25)) {
        size_t c = 0;
        while (i < v.size() && v[i] <= ub * 1000.0)
            ++i, ++c;
        if (c)
            h.push_back({std::round(ub * 1000) / 1000, c});
        if (ub > 1e7)
            break;
    }
    j["histogram_le_ms"] = h;
    return j;
}

// ---- sse mode -------------------------------------------------------------------------------
int64_t parse_rfc3339_ms(const char* p, const char* end) { // 2026-11-26T05:02:39.123Z
    if (end - p < 20)
        return -1;
    std::tm tm{};
    tm.tm_year = std::atoi(p) - 1900;
    tm.tm_mon = std::atoi(p + 5) - 1;
    tm.tm_mday = std::atoi(p + 8);
    tm.tm_hour = std::atoi(p + 11);
    tm.tm_min = std::atoi(p + 14);
    tm.tm_sec = std::atoi(p + 17);
    int64_t ms = 0;
    if (p[19] == '.')
        ms = std::atoi(p + 20);
    return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

struct SseState {
    asio::io_context io{1};
    const Options* opt;
    tcp::endpoint ep;
    std::string request;
    std::vector<int32_t> lat_us; // delivery latencies of all subscribers
    std::vector<long> counts;    // events per subscriber
    long headers_ok = 0, bad_status = 0, closed = 0, duplicates = 0, done_subscribers = 0;
    Clock::time_point last_event{};
    std::unique_ptr<asio::steady_timer> tick;
};

struct SseConn {
    SseState& S;
    size_t idx;
    tcp::socket sock;
    std::vector<char> raw = std::vector<char>(64 * 1024);
    size_t len = 0;
    bool headers = false, finished = false;
    long chunk_left = -1; // -1: expecting a chunk-size line
    std::string stream;   // de-chunked SSE text
    uint64_t last_id = 0;
    SseConn(SseState& s, size_t i) : S(s), idx(i), sock(s.io) {}

    void start() {
        asio::error_code ec;
        sock.connect(S.ep, ec);
        if (ec) {
            std::fprintf(stderr, "loadgen: sse connect failed: %s\n", ec.message().c_str());
            std::exit(1);
        }
        asio::async_write(sock, asio::buffer(S.request), [](const asio::error_code&, size_t) {});
        read();
    }
    void read() {
        sock.async_read_some(asio::buffer(raw.data() + len, raw.size() - len),
                             [this](const asio::error_code& ec, size_t n) {
                                 if (ec) {
                                     if (!finished)
                                         ++S.closed;
                                     finished = true;
                                     return;
                                 }
                                 len += n;
                                 parse();
                                 if (!finished)
                                     read();
                             });
    }
    void parse() {
        size_t pos = 0;
        if (!headers) {
            const char* he = static_cast<const char*>(memmem(raw.data(), len, "\r\n\r\n", 4));
            if (!he)
                return;
            if (std::atoi(raw.data() + 9) != 200) {
                ++S.bad_status;
                finished = true;
                return;
            }
            headers = true;
            ++S.headers_ok;
            pos = he - raw.data() + 4;
        }
        for (;;) {
            if (chunk_left < 0) {
                const char* nl =
                    static_cast<const char*>(memmem(raw.data() + pos, len - pos, "\r\n", 2));
                if (!nl)
                    break;
                chunk_left = std::strtol(raw.data() + pos, nullptr, 16);
                pos = nl - raw.data() + 2;
                if (chunk_left == 0) { // end of stream
                    finished = true;
                    ++S.closed;
                    break;
                }
            }
            if (chunk_left > 0) {
                size_t take = std::min<size_t>(chunk_left, len - pos);
                stream.append(raw.data() + pos, take);
                pos += take;
                chunk_left -= static_cast<long>(take);
            }
            if (chunk_left == 0) {
                if (len - pos < 2)
                    break;
                pos += 2; // CRLF after the chunk data
                chunk_left = -1;
                continue;
            }
            if (pos >= len)
                break;
        }
        std::memmove(raw.data(), raw.data() + pos, len - pos);
        len -= pos;
        frames();
    }
    void frames() {
        size_t start = 0;
        auto now_sys = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
        for (;;) {
            size_t e = stream.find("\n\n", start);
            if (e == std::string::npos)
                break;
            const char* f = stream.data() + start;
            const char* fe = stream.data() + e;
            start = e + 2;
            const char* d = static_cast<const char*>(memmem(f, fe - f, "data: ", 6));
            if (!d)
                continue; // retry:, keep-alive comments
            if (f[0] == 'i' && f[1] == 'd' && f[2] == ':') {
                uint64_t id = std::strtoull(f + 3, nullptr, 10);
                if (id <= last_id)
                    ++S.duplicates;
                last_id = std::max(last_id, id);
            }
            const char* u = static_cast<const char*>(memmem(d, fe - d, "\"updated_at\"", 12));
            if (u) {
                const char* q = static_cast<const char*>(memchr(u + 12, '"', fe - u - 12));
                if (q) {
                    int64_t ms = parse_rfc3339_ms(q + 1, fe);
                    if (ms > 0)
                        S.lat_us.push_back(static_cast<int32_t>(now_sys - ms * 1000));
                }
            }
            S.last_event = Clock::now();
            if (++S.counts[idx] == S.opt->expect_events)
                ++S.done_subscribers;
        }
        stream.erase(0, start);
    }
};

int run_sse(const Options& o, tcp::endpoint ep) {
    SseState S;
    S.opt = &o;
    S.ep = ep;
    S.request = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                "\r\nAccept: text/event-stream\r\n" +
                (o.token.empty() ? "" : "Authorization: Bearer " + o.token + "\r\n") + "\r\n";
    S.counts.assign(o.subscribers, 0);
    S.lat_us.reserve(1 << 22);
    std::vector<std::unique_ptr<SseConn>> conns;
    for (int i = 0; i < o.subscribers; ++i) {
        conns.push_back(std::make_unique<SseConn>(S, i));
        conns.back()->start();
    }
    auto t0 = Clock::now();
    bool ready_written = false;
    S.tick = std::make_unique<asio::steady_timer>(S.io);
    std::function<void()> check = [&]() {
        auto now = Clock::now();
        if (!ready_written && S.headers_ok + S.bad_status == o.subscribers) {
            ready_written = true;
            if (!o.ready_file.empty())
                std::ofstream(o.ready_file) << S.headers_ok << "\n";
        }
        bool all = o.expect_events > 0 && S.done_subscribers == o.subscribers;
        bool idle = S.last_event != Clock::time_point{} &&
                    now - S.last_event > std::chrono::duration<double>(o.idle_stop);
        bool dead = S.closed + S.bad_status >= o.subscribers;
        if (all || idle || dead || now - t0 > std::chrono::duration<double>(o.duration))
            return S.io.stop();
        S.tick->expires_after(std::chrono::milliseconds(50));
        S.tick->async_wait([&](const asio::error_code& ec) {
            if (!ec)
                check();
        });
    };
    check();
    S.io.run();
    std::vector<int32_t> v = S.lat_us;
    std::sort(v.begin(), v.end());
    auto pk = [&](double p) {
        if (v.empty())
            return 0.0;
        size_t k = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
        k = std::max<size_t>(1, std::min(k, v.size()));
        return std::round(v[k - 1] / 10.0) / 100.0;
    };
    auto c = S.counts;
    std::sort(c.begin(), c.end());
    nlohmann::json out;
    out["mode"] = "sse";
    out["subscribers"] = o.subscribers;
    out["connected"] = S.headers_ok;
    out["bad_status"] = S.bad_status;
    out["closed_by_server"] = S.closed;
    out["expect_events_per_subscriber"] = o.expect_events;
    out["events_per_subscriber"] = {{"min", c.empty() ? 0 : c.front()},
                                    {"max", c.empty() ? 0 : c.back()}};
    out["subscribers_complete"] = S.done_subscribers;
    out["events_total"] = S.lat_us.size();
    out["out_of_order_or_duplicate"] = S.duplicates;
    out["delivery_latency"] = {
        {"n", v.size()},    {"min_ms", pk(0)},
        {"p50_ms", pk(50)}, {"p95_ms", pk(95)},
        {"p99_ms", pk(99)}, {"max_ms", v.empty() ? 0.0 : std::round(v.back() / 10.0) / 100.0}};
    out["delivery_latency_basis"] =
        "event arrival (client clock) - the event's updated_at (DB now(), ms precision)";
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    out["loadgen_cpu_s"] = std::round((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                                       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) *
                                      100) /
                           100;
    std::string text = out.dump(1);
    if (!o.json_out.empty())
        std::ofstream(o.json_out) << text << "\n";
    else
        std::cout << text << "\n";
    return (S.headers_ok == o.subscribers &&
            (o.expect_events == 0 || S.done_subscribers == o.subscribers))
               ? 0
               : 3;
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    std::string request = build_request(o);
    asio::error_code ec;
    auto addr = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
    if (ec)
        usage("--host must be an IP address");
    tcp::endpoint ep(addr, static_cast<unsigned short>(o.port));
    if (o.mode == "sse")
        return run_sse(o, ep);
    if (o.mode == "sink") {
        // Calibration: a minimal HTTP server (200, empty body, keep-alive) on --port for
        // --duration s, to measure loadgen's own ceiling: loadgen submit --url
        // http://127.0.0.1:PORT
        Loop L;
        L.opt = &o;
        L.hook_at.assign(1, Clock::time_point{});
        tcp::acceptor acc(L.io, ep);
        sink_accept(L, acc);
        asio::steady_timer t(L.io, std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(o.duration)));
        t.async_wait([&](const asio::error_code&) { L.io.stop(); });
        std::fprintf(stderr, "loadgen: sink on %s:%d for %.0f s\n", o.host.c_str(), o.port,
                     o.duration);
        L.io.run();
        return 0;
    }

    std::vector<std::unique_ptr<Loop>> loops;
    for (int t = 0; t < o.threads; ++t) {
        auto L = std::make_unique<Loop>();
        L->opt = &o;
        L->request = request;
        L->ep = ep;
        L->samples.reserve(1 << 20);
        loops.push_back(std::move(L));
    }
    std::unique_ptr<tcp::acceptor> sink;
    if (o.webhook_sink) {
        if (o.mode != "rate" && o.mode != "pickup")
            usage("--webhook-sink needs mode rate or pickup");
        Loop& L = *loops[0];
        sink = std::make_unique<tcp::acceptor>(L.io, tcp::endpoint(addr, 0));
        unsigned short sp = sink->local_endpoint().port();
        long limit = o.count > 0 ? o.count : static_cast<long>(std::floor(o.duration * o.rate));
        for (long i = 0; i < limit; ++i) {
            Options oi = o;
            oi.body = "{\"job_type\":\"webhook\",\"payload\":{\"url\":\"http://" + o.host + ":" +
                      std::to_string(sp) + "/hook/" + std::to_string(i) +
                      "\",\"method\":\"POST\",\"body\":{\"i\":" + std::to_string(i) + "}}}";
            L.requests.push_back(build_request(oi));
        }
        L.answered_at.assign(limit, Clock::time_point{});
        L.hook_at.assign(limit, Clock::time_point{});
        sink_accept(L, *sink);
    }
    auto t0 = Clock::now();
    int64_t sys0 = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    bool open_loop = (o.mode == "rate" || o.mode == "pickup");
    auto dur =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
    for (auto& L : loops) {
        L->t0 = t0;
        L->sys0_us = sys0;
        L->warm_end = t0 + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.warmup));
        L->deadline = open_loop ? Clock::time_point::max() : t0 + dur;
    }
    std::vector<std::vector<std::unique_ptr<Conn>>> conns(o.threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t) {
        int n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
        threads.emplace_back([&, t, n] { run_loop(*loops[t], n, conns[t]); });
    }
    for (auto& th : threads)
        th.join();
    auto t_end = Clock::now();

    // Merge.
    std::vector<Sample> samples;
    std::vector<IdRecord> ids;
    std::map<int, long> statuses;
    long conn_errors = 0, parse_errors = 0, reconnects = 0, in_window = 0, jobs_in_window = 0,
         unanswered = 0, idle_closed = 0;
    size_t max_backlog = 0;
    Clock::time_point deadline = loops[0]->deadline;
    for (auto& L : loops) {
        samples.insert(samples.end(), L->samples.begin(), L->samples.end());
        for (auto& r : L->ids)
            ids.push_back(std::move(r));
        for (auto& [k, v] : L->statuses)
            statuses[k] += v;
        conn_errors += L->conn_errors;
        parse_errors += L->parse_errors;
        reconnects += L->reconnects;
        idle_closed += L->idle_closed;
        in_window += L->completed_in_window;
        jobs_in_window += L->jobs_in_window;
        unanswered += L->in_flight + static_cast<long>(L->backlog.size());
        max_backlog = std::max(max_backlog, L->max_backlog);
        if (open_loop)
            deadline = L->deadline;
    }
    double window =
        std::chrono::duration<double>(std::min(deadline, t_end) -
                                      (t0 + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(o.warmup))))
            .count();
    if (window <= 0)
        window = 1e-9;

    std::vector<uint32_t> lat, svc, lat201;
    lat.reserve(samples.size());
    for (auto& s : samples) {
        lat.push_back(s.lat_us);
        svc.push_back(s.svc_us);
    }
    // Per-second timeline of answers (by completion time).
    std::map<uint32_t, std::vector<uint32_t>> per_sec;
    for (auto& s : samples)
        per_sec[s.done_ms / 1000].push_back(s.lat_us);
    nlohmann::json timeline = nlohmann::json::array();
    for (auto& [sec, v] : per_sec) {
        std::sort(v.begin(), v.end());
        timeline.push_back({{"t", sec},
                            {"answers", v.size()},
                            {"p50_ms", std::round(pct(v, 50) / 10.0) / 100.0},
                            {"p99_ms", std::round(pct(v, 99) / 10.0) / 100.0},
                            {"max_ms", std::round(v.back() / 10.0) / 100.0}});
    }

    nlohmann::json out;
    out["mode"] = o.mode;
    out["params"] = {{"connections", o.connections},
                     {"threads", o.threads},
                     {"duration_s", o.duration},
                     {"warmup_s", o.warmup},
                     {"rate", o.rate},
                     {"count", o.count},
                     {"batch_size", o.mode == "batch" ? o.batch_size : 1},
                     {"run_at", o.run_at},
                     {"request_bytes", request.size()}};
    out["window_s"] = std::round(window * 1000) / 1000;
    nlohmann::json st;
    long total_answers = 0, non201 = 0;
    for (auto& [k, v] : statuses) {
        st[k == 0 ? std::string("no_answer") : std::to_string(k)] = v;
        total_answers += v;
        if (k != 201)
            non201 += v;
    }
    out["status_counts"] = st;
    out["requests"] = total_answers;
    out["non_201"] = non201;
    out["conn_errors"] = conn_errors;
    out["parse_errors"] = parse_errors;
    out["reconnects"] = reconnects;
    out["idle_closed_by_server"] = idle_closed;
    out["unanswered_at_end"] = unanswered;
    out["answers_in_window"] = in_window;
    out["req_per_s"] = std::round(in_window / window);
    out["jobs_per_s"] = std::round(jobs_in_window / window);
    out["ids"] = ids.size();
    out["latency"] = lat_stats(lat);
    if (open_loop) {
        out["latency_basis"] =
            "from intended send time (open loop, coordinated-omission corrected)";
        out["service_latency"] = lat_stats(svc);
        out["max_backlog"] = max_backlog;
        out["issued"] = loops[0]->issued;
    } else {
        out["latency_basis"] = "from send to full answer";
    }
    out["timeline"] = timeline;
    if (o.webhook_sink) {
        Loop& L = *loops[0];
        std::vector<double> d; // answered -> webhook arrival, ms; negative: the job started first
        long no_hook = 0;
        for (size_t i = 0; i < L.answered_at.size(); ++i) {
            if (L.answered_at[i] == Clock::time_point{})
                continue;
            if (L.hook_at[i] == Clock::time_point{}) {
                ++no_hook;
                continue;
            }
            d.push_back(
                std::chrono::duration<double, std::milli>(L.hook_at[i] - L.answered_at[i]).count());
        }
        std::sort(d.begin(), d.end());
        auto pk = [&](double p) {
            if (d.empty())
                return 0.0;
            size_t k = static_cast<size_t>(std::ceil(p / 100.0 * d.size()));
            k = std::max<size_t>(1, std::min(k, d.size()));
            return std::round(d[k - 1] * 100) / 100;
        };
        nlohmann::json sl = {
            {"n", d.size()}, {"no_webhook_call", no_hook}, {"duplicate_calls", L.hook_dups}};
        if (!d.empty()) {
            sl["min_ms"] = std::round(d.front() * 100) / 100;
            sl["p50_ms"] = pk(50);
            sl["p95_ms"] = pk(95);
            sl["p99_ms"] = pk(99);
            sl["max_ms"] = std::round(d.back() * 100) / 100;
        }
        out["start_latency"] = sl;
        out["start_latency_basis"] =
            "201 answer received -> the job's webhook request arrives at loadgen's sink";
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    out["loadgen_cpu_s"] = std::round((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                                       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) *
                                      100) /
                           100;

    if (!o.ids_out.empty()) {
        FILE* f = std::fopen(o.ids_out.c_str(), "w");
        if (!f) {
            std::perror(o.ids_out.c_str());
            return 1;
        }
        for (auto& r : ids)
            std::fprintf(f, "%s\t%lld\t%u\n", r.id.c_str(), static_cast<long long>(r.answered_us),
                         r.lat_us);
        std::fclose(f);
    }
    std::string text = out.dump(1);
    if (!o.json_out.empty()) {
        std::ofstream(o.json_out) << text << "\n";
    } else {
        std::cout << text << "\n";
    }
    return (conn_errors == 0 && parse_errors == 0 && unanswered == 0) ? 0 : 3;
}
