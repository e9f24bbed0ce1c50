// Hostile input over real sockets against a real server process: oversized bodies, headers and
// URLs, slowloris, many idle connections, malformed UTF-8, deep nesting, SQL metacharacters and
// NUL bytes. After each attack the server must still answer other clients.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "http/request_parsing.hpp"
#include "support/api.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/proc_stats.hpp"
#include "support/raw_conn.hpp"
#include "support/server_process.hpp"

using namespace testsupport;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using Env = std::map<std::string, std::string>;

namespace {

std::string percent_encode(const std::string& s) {
    return conveyor::url_encode(s);
}

// Whether this build of the server knows a setting (listed by --help).
bool server_has_setting(const std::string& env_name) {
    std::string cmd = conveyor_binary() + " --help 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    if (!p)
        return false;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p.get())) > 0)
        out.append(buf, n);
    return out.find(env_name) != std::string::npos;
}

} // namespace

TEST_CASE("a body over MAX_BODY_BYTES gets a 413 JSON error and the server stays responsive") {
    Api api(Env{{"MAX_BODY_BYTES", "1000"}});
    std::string body = R"({"job_type":"noop","payload":{"x":")" + std::string(1500, 'a') + "\"}}";

    RawConn c(api.server.port());
    REQUIRE(c.ok());
    REQUIRE(c.send_all(post_head("/jobs", body.size()) + body));
    REQUIRE(c.read_until(RawConn::complete_response, 10000));
    INFO(c.received());
    CHECK(status_of(c.received()) == 413);
    auto j = json::parse(body_of(c.received()), nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["error"]["code"] == "body_too_large");
    CHECK(RawConn::lower(c.received()).find("content-type: application/json") != std::string::npos);

    // The connection is not left hanging: it is either closed or still serves requests.
    std::string next = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    size_t before = c.received().size();
    if (c.send_all(next, 2000)) {
        bool answered = c.read_until(
            [before](const std::string& s) { return RawConn::complete_response(s.substr(before)); },
            10000);
        CHECK((answered || c.closed()));
        if (answered)
            CHECK(status_of(c.received().substr(before)) == 200);
    }
    // Batches too.
    std::string batch =
        R"({"jobs":[{"job_type":"noop","payload":{"x":")" + std::string(1500, 'b') + "\"}}]}";
    check_error(http_post_json(api.url("/jobs/batch"), batch), 413, "body_too_large");
    CHECK(api.healthy());
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

// Far over the limit (64 MiB against 1000 bytes): read and dropped, never buffered, then a 413
// and a clean close (FIN after the answer, not a reset that could swallow it).
TEST_CASE("a body far over the limit is answered 413 and closed cleanly, without being buffered") {
    Api api(Env{{"MAX_BODY_BYTES", "1000"}});
    const size_t announced = 64u << 20;
    const std::string chunk(64 * 1024, 'x');
    long rss_before = rss_kb(api.server.pid());
    auto expect_413_then_close = [&](RawConn& c) {
        REQUIRE(c.read_until(RawConn::complete_response, 20000));
        INFO(c.received());
        CHECK(status_of(c.received()) == 413);
        CHECK(json::parse(body_of(c.received()), nullptr, false)["error"]["code"] ==
              "body_too_large");
        CHECK(RawConn::lower(c.received()).find("connection: close") != std::string::npos);
        CHECK(c.closed_within(10000));
        CHECK_FALSE(c.reset());
    };

    SECTION("with Content-Length") {
        RawConn c(api.server.port());
        REQUIRE(c.ok());
        REQUIRE(c.send_all(post_head("/jobs", announced)));
        for (size_t sent = 0; sent < announced; sent += chunk.size())
            REQUIRE(c.send_all(chunk, 20000));
        expect_413_then_close(c);
    }
    SECTION("chunked, no length announced") {
        RawConn c(api.server.port());
        REQUIRE(c.ok());
        c.send_all("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
        for (size_t sent = 0; sent < announced; sent += chunk.size())
            REQUIRE(c.send_all(size_line + chunk + "\r\n", 20000));
        REQUIRE(c.send_all("0\r\n\r\n"));
        expect_413_then_close(c);
    }
    SECTION("a client waiting for 100 Continue is answered before it sends the body") {
        RawConn c(api.server.port());
        REQUIRE(c.ok());
        REQUIRE(c.send_all(post_head("/jobs", announced, "Expect: 100-continue\r\n")));
        expect_413_then_close(c);
    }
    long rss_after = rss_kb(api.server.pid());
    INFO("server RSS " << rss_before << " kB before, " << rss_after << " kB after");
#ifndef CONVEYOR_SANITIZED
    CHECK(rss_after - rss_before < 16 * 1024);
#endif
    CHECK(api.healthy());
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("oversized headers are refused and the server stays responsive") {
    Api api;
    auto refused = [&](const std::string& request) {
        RawConn c(api.server.port());
        REQUIRE(c.ok());
        c.send_all(request, 5000);
        // Either a 4xx answer or a closed connection; never a normal answer.
        c.read_until([](const std::string& s) { return RawConn::complete_response(s); }, 10000);
        INFO(c.received().substr(0, 200));
        int status = status_of(c.received());
        CHECK((status == 0 || (status >= 400 && status < 500)));
        CHECK(c.closed_within(10000));
    };

    SECTION("a 64 KiB header value") {
        refused("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(65536, 'v') +
                "\r\n\r\n");
    }
    SECTION("a 64 KiB Authorization header") {
        refused("GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                std::string(65536, 't') + "\r\n\r\n");
    }
    SECTION("a thousand header fields") {
        std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        for (int i = 0; i < 1000; ++i)
            req += "X-H" + std::to_string(i) + ": v\r\n";
        refused(req + "\r\n");
    }
    CHECK(api.healthy());
}

// RESTinio is not given max_url_size or max_field_name_size; the HTTP parser's own limit on the
// header section (80 KiB) must still stop a request target or header name that never ends.
TEST_CASE("an endless header name or URL is cut off") {
    Api api;
    const std::string chunk(64 * 1024, 'n');
    auto cut_off = [&](const std::string& start) {
        RawConn c(api.server.port());
        REQUIRE(c.ok());
        c.send_all(start);
        size_t sent = 0;
        auto deadline = Clock::now() + std::chrono::seconds(15);
        while (sent < (64u << 20) && Clock::now() < deadline && c.send_all(chunk, 1000))
            sent += chunk.size();
        INFO("sent " << sent << " bytes before the server closed");
        CHECK(c.closed_within(5000));
        CHECK(sent < (16u << 20));
    };
    SECTION("header name") {
        cut_off("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-");
    }
    SECTION("URL") {
        cut_off("GET /jobs?job_type=");
    }
    CHECK(api.healthy());
}

TEST_CASE("slowloris: a connection trickling its headers is closed after the read timeout") {
    // A build without the setting fails here instead of skipping silently.
    REQUIRE(server_has_setting("HTTP_READ_TIMEOUT_S"));
    Api api(Env{{"HTTP_READ_TIMEOUT_S", "2"}});
    std::vector<std::unique_ptr<RawConn>> slow;
    for (int i = 0; i < 20; ++i) {
        slow.push_back(std::make_unique<RawConn>(api.server.port()));
        REQUIRE(slow.back()->ok());
        slow.back()->send_all("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    // One header byte per 200 ms per connection, never finishing the request. The server must
    // close them (2 s limit for the whole request) while others keep getting answers.
    auto start = Clock::now();
    auto deadline = start + std::chrono::seconds(20);
    int answered = 0, asked = 0;
    while (Clock::now() < deadline) {
        bool any_open = false;
        for (auto& c : slow) {
            if (c->closed())
                continue;
            if (c->send_all("X", 200))
                c->pump(0);
            any_open = any_open || !c->closed();
        }
        ++asked;
        answered += api.healthy(3000) ? 1 : 0;
        if (!any_open)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    INFO("closed after " << took.count() << " ms; " << answered << "/" << asked << " answered");
    for (auto& c : slow) {
        CHECK(c->closed());
        CHECK(status_of(c->received()) != 200);
    }
    CHECK(took < std::chrono::seconds(15));
    CHECK(answered == asked);
    CHECK(api.healthy());
}

TEST_CASE("1,500 idle connections do not stop a normal request from being answered") {
    const int kIdle = 1500;
    rlimit lim{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
    // Room for our sockets and the server's (which inherits the limit), plus libraries' files.
    rlim_t want = 4 * static_cast<rlim_t>(kIdle) + 1024;
    if (lim.rlim_cur < want) {
        lim.rlim_cur = std::min(want, lim.rlim_max);
        REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    }
    REQUIRE(lim.rlim_cur >= 2 * static_cast<rlim_t>(kIdle) + 256);

    Api api;
    std::vector<std::unique_ptr<RawConn>> idle;
    for (int i = 0; i < kIdle; ++i) {
        idle.push_back(std::make_unique<RawConn>(api.server.port()));
        REQUIRE(idle.back()->ok());
    }
    // Half of them started a request and stalled.
    for (int i = 0; i < kIdle; i += 2)
        idle[static_cast<size_t>(i)]->send_all("GET /jobs HTTP/1.1\r\nHost: x\r\n");

    for (int i = 0; i < 5; ++i) {
        auto t0 = Clock::now();
        auto r = http("GET", api.url("/healthz"), "", {}, 15000);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
        INFO("healthz took " << ms << " ms");
        CHECK(r.status == 200);
        CHECK(ms < 10000); // answered, not starved; speed is measured in bench/
    }
    auto r = http_post_json(api.url("/jobs"), R"({"job_type":"noop"})");
    CHECK(r.status == 201);
    int still_open = 0;
    for (auto& c : idle)
        still_open += c->pump(0) ? 1 : 0;
    INFO(still_open << " idle connections still open");
    CHECK(still_open == kIdle); // served without shedding the idle ones
    CHECK(api.server.running());
}

TEST_CASE("malformed UTF-8 inside JSON strings is 400 malformed_json and never stored") {
    Api api;
    const std::vector<std::string> bad = {
        "\xff\xfe",         // bytes that never occur in UTF-8
        "\xc3",             // truncated sequence
        "\xc0\xaf",         // overlong '/'
        "\xe0\x80\xaf",     // overlong, 3 bytes
        "\xed\xa0\x80",     // a UTF-16 surrogate encoded in UTF-8
        "\xf4\x90\x80\x80", // above U+10FFFF
        "\x80",             // lone continuation byte
        "ok\xf0\x9f\x98",   // emoji cut short
        "\\ud800",          // lone high surrogate escape
        "\\udc00x",         // lone low surrogate escape
        "\\ud83d\\u0041",   // high surrogate followed by a non-surrogate
    };
    for (const auto& s : bad) {
        INFO("string bytes: " << json(s).dump(-1, ' ', true, json::error_handler_t::replace));
        check_error(
            http_post_json(api.url("/jobs"), R"({"job_type":"noop","payload":{"s":")" + s + "\"}}"),
            400, "malformed_json");
        check_error(
            http_post_json(api.url("/jobs"), R"({"job_type":"noop","payload":{")" + s + "\":1}}"),
            400, "malformed_json");
        check_error(
            http_post_json(api.url("/jobs/batch"), R"({"jobs":[{"job_type":")" + s + "\"}]}"), 400,
            "malformed_json");
    }
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
    // Valid multi-byte text is stored verbatim.
    auto ok = http_post_json(api.url("/jobs"),
                             "{\"job_type\":\"noop\",\"payload\":{\"s\":\"\xc3\xa9\xe2\x82\xac"
                             "\xf0\x9f\x98\x80\\ud83d\\ude00\"}}");
    REQUIRE(ok.status == 201);
    CHECK(api.db.text("SELECT payload->>'s' FROM jobs") ==
          "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
}

TEST_CASE("deeply nested JSON is 400 and the server stays up") {
    Api api;
    auto nested = [](int levels) { // `levels` objects/arrays in total, payload included
        std::string inner;
        for (int i = 0; i < levels - 2; ++i)
            inner += "[";
        inner += "1";
        for (int i = 0; i < levels - 2; ++i)
            inner += "]";
        return R"({"job_type":"noop","payload":{"a":)" + inner + "}}";
    };
    CHECK(http_post_json(api.url("/jobs"), nested(64)).status == 201);
    check_error(http_post_json(api.url("/jobs"), nested(65)), 400, "malformed_json");
    check_error(http_post_json(api.url("/jobs"), nested(100000)), 400, "malformed_json");
    // Unbalanced: only openers, far deeper than any stack.
    check_error(http_post_json(api.url("/jobs"), std::string(500000, '[')), 400, "malformed_json");
    check_error(http_post_json(api.url("/jobs"), std::string(500000, '{')), 400, "malformed_json");
    check_error(
        http_post_json(api.url("/jobs/batch"), R"({"jobs":[)" + std::string(100000, '[') + "]}"),
        400, "malformed_json");
    // Brackets inside strings do not count.
    CHECK(http_post_json(api.url("/jobs"),
                         R"({"job_type":"noop","payload":{"s":")" + std::string(1000, '[') + "\"}}")
              .status == 201);
    CHECK(api.healthy());
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 2);
}

TEST_CASE("SQL metacharacters are data: stored verbatim, never executed") {
    Api api;
    const std::vector<std::string> evil = {
        "'; DROP TABLE jobs; --",
        "\"; DELETE FROM jobs; --",
        "' OR '1'='1",
        "noop' OR job_type LIKE '%",
        "$1::text); TRUNCATE jobs; --",
        "\\'; SELECT pg_sleep(10); --",
        "E'\\x27'",
        "%_%",
        "$$ quoted $$",
        "/* comment */ ;",
        "ROLLBACK; DROP SCHEMA public CASCADE;",
    };
    // Payload keys and values.
    for (const auto& s : evil) {
        json body = {{"job_type", "noop"}, {"payload", {{"v", s}, {s, s}, {"nested", {s}}}}};
        auto r = http_post_json(api.url("/jobs"), body.dump());
        INFO(s << " -> " << r.body);
        REQUIRE(r.status == 201);
        auto id = r.json()["id"].get<std::string>();
        auto got = http_get(api.url("/jobs/" + id));
        REQUIRE(got.status == 200);
        CHECK(got.json()["payload"] == body["payload"]);
        auto stored =
            json::parse(api.db.text("SELECT payload::text FROM jobs WHERE id = '" + id + "'"));
        CHECK(stored == body["payload"]);
    }
    const long long stored = static_cast<long long>(evil.size());
    REQUIRE(api.db.count("SELECT count(*) FROM jobs") == stored);

    // A batch with them.
    json batch = {{"jobs", json::array()}};
    for (const auto& s : evil)
        batch["jobs"].push_back({{"job_type", "noop"}, {"payload", {{"v", s}}}});
    REQUIRE(http_post_json(api.url("/jobs/batch"), batch.dump()).status == 201);
    REQUIRE(api.db.count("SELECT count(*) FROM jobs") == 2 * stored);

    for (const auto& s : evil) {
        INFO(s);
        // job_type in a submission: an unknown type, nothing stored.
        check_error(http_post_json(api.url("/jobs"), json{{"job_type", s}}.dump()), 422,
                    "unknown_job_type");
        // GET /jobs filter: matches nothing (no type has that name), no wildcard, no error.
        auto list = http_get(api.url("/jobs?job_type=" + percent_encode(s)));
        CHECK(list.status == 200);
        CHECK(list.json() == json::array());
        // Everything else is validated before any SQL.
        check_error(http_get(api.url("/jobs?status=" + percent_encode(s))), 400, "invalid_query");
        check_error(http_get(api.url("/jobs?cursor=" + percent_encode(s))), 400, "invalid_query");
        check_error(http_get(api.url("/jobs?cursor=1_" + percent_encode(s))), 400, "invalid_query");
        check_error(http_get(api.url("/jobs?limit=" + percent_encode(s))), 400, "invalid_query");
        check_error(http_get(api.url("/jobs?" + percent_encode(s) + "=1")), 400, "invalid_query");
        auto one = http_get(api.url("/jobs/" + percent_encode(s)));
        CHECK((one.status == 400 || one.status == 404)); // 404 when the router sees a '/'
        CHECK((one.json()["error"]["code"] == "invalid_id" ||
               one.json()["error"]["code"] == "not_found"));
        check_error(http_get(api.url("/events?job_id=" + percent_encode(s))), 400, "invalid_query");
        check_error(http_get(api.url("/events?status=" + percent_encode(s))), 400, "invalid_query");
    }
    // The table is intact, with exactly what was stored.
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 2 * stored);
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE job_type <> 'noop'") == 0);
    CHECK(http_get(api.url("/jobs?job_type=noop&limit=1000")).json().size() ==
          static_cast<size_t>(2 * stored));
    CHECK(api.healthy());
}

// PostgreSQL's jsonb refuses \u0000 ("unsupported Unicode escape sequence"): the API refuses such
// payloads up front with 422 naming the place, instead of failing the insert with a 500.
TEST_CASE("NUL characters in payload strings are refused with 422 naming where") {
    Api api;
    const std::vector<std::string> bodies = {
        R"({"job_type":"noop","payload":{"s":"a\u0000b"}})",
        R"({"job_type":"noop","payload":{"a\u0000b":1}})",
        R"({"job_type":"noop","payload":{"list":["x","\u0000"]}})",
        R"({"job_type":"telegram","payload":{"chat_id":"1","text":"hi\u0000there"}})",
    };
    for (const auto& b : bodies) {
        auto r = http_post_json(api.url("/jobs"), b);
        INFO("POST /jobs " << b << " -> " << r.status << " " << r.body);
        CHECK(r.status == 422);
        CHECK(r.json()["error"]["code"] == "invalid_payload");
        CHECK(r.json()["error"]["message"].get<std::string>().find("payload") == 0);
        auto batch = http_post_json(api.url("/jobs/batch"), R"({"jobs":[)" + b + "]}");
        INFO("POST /jobs/batch -> " << batch.status << " " << batch.body);
        CHECK(batch.status == 422);
        CHECK(batch.json()["error"]["message"].get<std::string>().find("jobs[0]: payload") == 0);
    }
    CHECK(api.healthy());
}

// libpq passes parameters as C strings, so "noop\0x" would reach SQL as "noop": refused with 400.
TEST_CASE("a NUL in a query parameter is refused instead of matching a truncated value") {
    Api api;
    REQUIRE(http_post_json(api.url("/jobs"), R"({"job_type":"noop"})").status == 201);
    auto list = http_get(api.url("/jobs?job_type=noop%00x"));
    INFO(list.status << " " << list.body);
    CHECK(list.status == 400);
    CHECK(list.json()["error"]["code"] == "invalid_query");
}

TEST_CASE("submissions that cannot be stored do not fail the good ones sent with them") {
    Api api;
    // Each flush of the writer writes many submissions in one transaction; one that the
    // database refuses (a trigger rejects payloads with the key "refuse_me") must get its own
    // 500 and not take the others down with it.
    api.db.exec("CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
                "NEW.payload ? 'refuse_me' THEN RAISE EXCEPTION 'refused by the test trigger'; "
                "END IF; RETURN NEW; END $$; CREATE TRIGGER refuse_marked BEFORE INSERT ON jobs "
                "FOR EACH ROW EXECUTE FUNCTION refuse_marked()");
    std::atomic<int> good_ok{0}, good_sent{0}, bad_500{0}, bad_sent{0};
    std::mutex m;
    std::vector<std::string> unexpected; // any other answer, for the failure message
    auto post = [&](const std::string& body, long want, std::atomic<int>& sent,
                    std::atomic<int>& as_wanted) {
        ++sent;
        auto r = http_post_json(api.url("/jobs"), body);
        if (r.status == want) {
            ++as_wanted;
        } else {
            std::lock_guard<std::mutex> lock(m);
            unexpected.push_back(std::to_string(r.status) + " " + r.body + " for " + body);
        }
        if (want == 500 && r.status == 500)
            check_error(r, 500, "internal_error");
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i)
                post(R"({"job_type":"noop","payload":{}})", 201, good_sent, good_ok);
        });
    threads.emplace_back([&] {
        for (int i = 0; i < 25; ++i)
            post(R"({"job_type":"noop","payload":{"refuse_me":1}})", 500, bad_sent, bad_500);
    });
    for (auto& t : threads)
        t.join();
    INFO("unexpected answers: " << unexpected.size()
                                << (unexpected.empty() ? "" : ", first: " + unexpected.front()));
    CHECK(good_ok == good_sent);
    CHECK(bad_500 == bad_sent);
    CHECK(api.db.count("SELECT count(*) FROM jobs") == good_sent);
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE payload ? 'refuse_me'") == 0);
    CHECK(api.server.log_contains("refused by the test trigger"));
    CHECK(api.healthy());
    api.db.exec("DROP TRIGGER refuse_marked ON jobs; DROP FUNCTION refuse_marked()");
}

TEST_CASE("a raw NUL byte in a body is malformed JSON, not a cut-off document") {
    Api api;
    // A NUL in a job_type is just an unknown type.
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"noop\u0000"})"), 422,
                "unknown_job_type");
    // nlohmann::json stops reading at a NUL byte; what follows it must not be silently ignored.
    std::string body = std::string(R"({"job_type":"noop"})") + '\0' + R"({"job_type":"evil"})";
    check_error(http_post_json(api.url("/jobs"), body), 400, "malformed_json");
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}
