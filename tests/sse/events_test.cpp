// SPEC §5 through real streaming HTTP clients against real server processes.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "actors/sse_broadcaster.hpp"

#include "support/api.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/jobs.hpp"
#include "support/server_process.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::seconds;

namespace {

std::unique_ptr<ServerProcess> start(const TestDatabase& db,
                                     std::map<std::string, std::string> env = {}) {
    return start_testd(db, std::move(env));
}

void submit_noops(const ServerProcess& s, int n) {
    submit_copies(s, {{"job_type", "noop"}}, n);
}

// The statuses of one job's events, in arrival order.
std::vector<std::string> statuses_of(const std::vector<SseEvent>& events,
                                     const std::string& job_id) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        auto d = json::parse(e.data, nullptr, false);
        if (e.event == "job" && d["id"] == job_id)
            out.push_back(d["status"]);
    }
    return out;
}

bool ids_increase(const std::vector<SseEvent>& events) {
    for (size_t i = 1; i < events.size(); ++i)
        if (std::stoull(events[i].id) <= std::stoull(events[i - 1].id))
            return false;
    return true;
}

// Waits until the stream is registered with the broadcaster (its first bytes arrived).
void connected(const SseClient& c) {
    REQUIRE(wait_until([&] { return c.raw().find("retry:") != std::string::npos; }, seconds(10)));
}

} // namespace

TEST_CASE("a job's pending, processing, done arrive in order with increasing ids") {
    TestDatabase db;
    auto s = start(db);
    SseClient sse(s->base_url() + "/events");
    connected(sse);
    auto id = submit(*s, {{"job_type", "noop"}});
    REQUIRE(wait_until([&] { return statuses_of(sse.events(), id).size() == 3; }, seconds(10)));
    CHECK(statuses_of(sse.events(), id) ==
          std::vector<std::string>{"pending", "processing", "done"});
    auto events = sse.events();
    CHECK(ids_increase(events));
    auto data = json::parse(events.back().data);
    for (auto key : {"id", "job_type", "status", "attempts", "max_attempts", "last_error",
                     "scheduled_at", "updated_at"})
        CHECK(data.contains(key));
    CHECK_FALSE(data.contains("payload"));
    CHECK(sse.raw().find("HTTP") == std::string::npos); // body only
}

TEST_CASE("GET /events answers text/event-stream without caching") {
    TestDatabase db;
    auto s = start(db);
    SseClient sse(s->base_url() + "/events");
    connected(sse);
    CHECK(sse.status() == 0); // still streaming: the status is known once the stream ends
    CHECK(sse.header("content-type") == "text/event-stream");
    CHECK(sse.header("cache-control") == "no-cache");
    CHECK(sse.raw().rfind("retry: 1000", 0) == 0);
}

TEST_CASE("a retrying job shows processing, pending with last_error, ..., failed") {
    TestDatabase db;
    auto s = start(db, {{"BACKOFF_BASE_MS", "50"}});
    SseClient sse(s->base_url() + "/events");
    connected(sse);
    auto id = submit(
        *s, {{"job_type", "test"}, {"payload", {{"fail", "transient"}}}, {"max_attempts", 3}});
    REQUIRE(wait_until(
        [&] {
            auto st = statuses_of(sse.events(), id);
            return !st.empty() && st.back() == "failed";
        },
        seconds(15)));
    CHECK(statuses_of(sse.events(), id) ==
          std::vector<std::string>{"pending", "processing", "pending", "processing", "pending",
                                   "processing", "failed"});
    for (const auto& e : sse.events()) {
        auto d = json::parse(e.data);
        if (d["status"] == "pending" && d["attempts"] > 0)
            CHECK(d["last_error"].is_string());
    }
}

TEST_CASE("filters select events and bad filters are 400 before the stream starts") {
    TestDatabase db;
    auto s = start(db, {{"BACKOFF_BASE_MS", "50"}});
    SseClient done_only(s->base_url() + "/events?status=done,failed");
    SseClient tests_only(s->base_url() + "/events?job_type=test");
    connected(done_only);
    connected(tests_only);
    auto a = submit(*s, {{"job_type", "noop"}});
    auto b = submit(*s, {{"job_type", "test"}});
    REQUIRE(
        wait_until([&] { return done_only.count() == 2 && tests_only.count() == 3; }, seconds(10)));
    for (const auto& e : done_only.events())
        CHECK(json::parse(e.data)["status"] == "done");
    for (const auto& e : tests_only.events())
        CHECK(json::parse(e.data)["id"] == b);
    // ?job_id= (resuming from the start, so that nothing of `a` is missed) gets `a` only.
    SseClient by_id(s->base_url() + "/events?job_id=" + a, {"Last-Event-ID: 0"});
    auto c = submit(*s, {{"job_type", "noop"}});
    wait_for_status(*s, c, "done");
    REQUIRE(wait_until([&] { return by_id.count() >= 3; }, seconds(10)));
    CHECK(statuses_of(by_id.events(), a) ==
          std::vector<std::string>{"pending", "processing", "done"});
    CHECK(statuses_of(by_id.events(), b).empty());
    CHECK(statuses_of(by_id.events(), c).empty());
    CHECK(by_id.count() == 3);
    for (auto bad :
         {"/events?status=nope", "/events?job_id=123", "/events?colour=red", "/events?job_type="}) {
        auto r = http("GET", s->base_url() + bad, "", {}, 5000);
        INFO(bad);
        CHECK(r.status == 400);
        CHECK(r.json()["error"]["code"] == "invalid_query");
    }
    auto r = http("GET", s->base_url() + "/events", "", {"Last-Event-ID: abc"}, 5000);
    CHECK(r.status == 400);
    CHECK(r.json()["error"]["code"] == "invalid_last_event_id");
}

TEST_CASE("a subscriber of another process sees a job run elsewhere") {
    TestDatabase db;
    auto b = start(db, {{"WORKER_CONCURRENCY", "1"}, {"SHUTDOWN_TIMEOUT_S", "1"}});
    // Fill B's only slot so that A runs the job under test.
    auto blocker = submit(*b, {{"job_type", "test"}, {"payload", {{"sleep_ms", 30000}}}});
    REQUIRE(wait_until(
        [&] {
            return db.text("SELECT status FROM jobs WHERE id = '" + blocker + "'") == "processing";
        },
        seconds(10)));
    auto a = start(db);
    SseClient sse(b->base_url() + "/events?job_type=noop");
    connected(sse);
    auto id = submit(*a, {{"job_type", "noop"}});
    REQUIRE(wait_until([&] { return statuses_of(sse.events(), id).size() == 3; }, seconds(10)));
    CHECK(statuses_of(sse.events(), id) ==
          std::vector<std::string>{"pending", "processing", "done"});
}

TEST_CASE("resuming with Last-Event-ID during a burst loses and repeats nothing") {
    TestDatabase db;
    // Jobs of 20 ms on 4 slots: the burst of 1,002 events lasts well over a second.
    auto s = start(db, {{"WORKER_CONCURRENCY", "4"}});
    const int jobs = 334; // 1,002 events
    std::vector<SseEvent> first_part;
    {
        SseClient first(s->base_url() + "/events");
        connected(first);
        submit_copies(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 20}}}}, jobs);
        REQUIRE(wait_until([&] { return first.count() >= 150; }, seconds(20)));
        first.stop();
        first_part = first.events();
    }
    REQUIRE(!first_part.empty());
    SseClient second(s->base_url() + "/events", {"Last-Event-ID: " + first_part.back().id});
    connected(second);
    // The burst was still running when the second stream joined: events were still to come.
    long long events_at_reconnect = db.count("SELECT count(*) FROM job_events");
    INFO(events_at_reconnect << " of " << 3 * jobs << " events existed at the reconnect");
    CHECK(events_at_reconnect < 3 * jobs);
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == jobs; },
        seconds(30)));
    auto expected = db.exec("SELECT id FROM job_events ORDER BY id");
    REQUIRE(expected.size() == 3 * jobs);
    REQUIRE(wait_until([&] { return first_part.size() + second.count() >= expected.size(); },
                       seconds(20)));
    std::vector<SseEvent> all = first_part;
    for (auto& e : second.events())
        all.push_back(e);
    REQUIRE(all.size() == expected.size());
    for (size_t i = 0; i < all.size(); ++i)
        CHECK(all[i].id == expected[static_cast<int>(i)][0].c_str());
}

TEST_CASE("a Last-Event-ID outside the retained window starts with a reset event") {
    TestDatabase db;
    auto s = start(db);
    SECTION("an id from the future") {
        SseClient sse(s->base_url() + "/events", {"Last-Event-ID: 999999"});
        REQUIRE(wait_until([&] { return sse.count() >= 1; }, seconds(10)));
        CHECK(sse.events()[0].event == "reset");
    }
    SECTION("an id older than the window, once newer events pushed it out") {
        SseClient live(s->base_url() + "/events");
        connected(live);
        const int jobs = static_cast<int>(conveyor::kEventWindow / 3) + 10; // 30 events past it
        submit_noops(*s, jobs);
        REQUIRE(wait_until([&] { return live.count() >= static_cast<size_t>(3 * jobs); },
                           seconds(120)));
        auto seen = live.events();
        auto oldest_kept = seen[seen.size() - conveyor::kEventWindow];
        // The event just before the oldest kept one is still resumable; the one before it is not.
        auto resumable = std::to_string(std::stoull(oldest_kept.id) - 1);
        SseClient ok(s->base_url() + "/events", {"Last-Event-ID: " + resumable});
        REQUIRE(wait_until([&] { return ok.count() >= conveyor::kEventWindow; }, seconds(20)));
        CHECK(ok.events()[0].event == "job");
        CHECK(ok.events()[0].id == oldest_kept.id);
        SseClient old(s->base_url() + "/events", {"Last-Event-ID: " + seen.front().id});
        REQUIRE(wait_until([&] { return old.count() >= 1; }, seconds(10)));
        CHECK(old.events()[0].event == "reset");
        CHECK(old.count() == 1);
    }
}

TEST_CASE("idle streams get keep-alive comments") {
    TestDatabase db;
    auto s = start(db, {{"SSE_KEEPALIVE_S", "1"}});
    SseClient sse(s->base_url() + "/events");
    CHECK(wait_until([&] { return sse.raw().find(": keepalive\n\n") != std::string::npos; },
                     seconds(10)));
}

TEST_CASE("more than SSE_MAX_SUBSCRIBERS streams get 503 and closed streams free their place") {
    TestDatabase db;
    auto s = start(db, {{"SSE_MAX_SUBSCRIBERS", "2"}, {"SSE_KEEPALIVE_S", "1"}});
    auto one = std::make_unique<SseClient>(s->base_url() + "/events");
    SseClient two(s->base_url() + "/events");
    connected(*one);
    connected(two);
    auto r = http("GET", s->base_url() + "/events", "", {}, 5000);
    CHECK(r.status == 503);
    CHECK(r.json()["error"]["code"] == "too_many_subscribers");
    one.reset(); // disconnect: noticed at the next write or keep-alive
    REQUIRE(wait_until([&] { return s->log_contains("subscriber dropped (disconnected"); },
                       seconds(10)));
    SseClient three(s->base_url() + "/events");
    connected(three);
}

namespace {

// A raw client with a tiny receive buffer that sends GET /events and never reads.
int open_stalled_stream(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string req = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    return fd;
}

// VmHWM of a process in KiB: the most memory it ever held.
long peak_rss_kb(int pid) {
    std::string status;
    FILE* f = fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    REQUIRE(f);
    char line[256];
    while (fgets(line, sizeof line, f))
        if (std::string(line).rfind("VmHWM:", 0) == 0)
            status = line;
    fclose(f);
    REQUIRE(!status.empty());
    return std::stol(status.substr(6));
}

// The unsent bytes named by the first "subscriber dropped (too slow, N bytes unsent)" line.
long long unsent_at_slow_drop(const std::string& log) {
    std::smatch m;
    static const std::regex re(R"(subscriber dropped \(too slow, ([0-9]+) bytes unsent\))");
    return std::regex_search(log, m, re) ? std::stoll(m[1]) : -1;
}

} // namespace

// Events carrying 2 KB of last_error each: ~11 MB/s of events, far past the 8 MiB cap within
// kSlowFor, so only the cap (not the 5 s slowness rule) can drop the stalled stream in time.
TEST_CASE(
    "a subscriber that never reads is dropped while others get every event in bounded memory") {
    TestDatabase db;
    auto s = start(db, {{"SSE_KEEPALIVE_S", "1"},
                        {"BACKOFF_BASE_MS", "1"},
                        {"BACKOFF_MAX_S", "1"},
                        {"WORKER_CONCURRENCY", "32"}});
    int fd = open_stalled_stream(s->port());
    SseClient reader(s->base_url() + "/events");
    connected(reader);
    const int jobs = 2500, attempts = 5; // 27,500 events, most with 2 KB of last_error
    submit_copies(*s,
                  {{"job_type", "test"},
                   {"payload", {{"fail", "transient"}, {"error_bytes", 2000}}},
                   {"max_attempts", attempts}},
                  jobs);
    const size_t expected = static_cast<size_t>(jobs) * (2 * attempts + 1);
    bool all_arrived = wait_until([&] { return reader.count() >= expected; }, seconds(180));
    std::string drops;
    {
        std::istringstream lines(s->log());
        for (std::string line; std::getline(lines, line);)
            if (line.find("sse") != std::string::npos)
                drops += line.substr(0, 300) + "\n";
    }
    INFO("received " << reader.count() << " events, " << reader.raw().size() << " bytes, "
                     << db.count("SELECT count(*) FROM job_events")
                     << " in the log; SSE log lines:\n"
                     << drops);
    REQUIRE(all_arrived);
    CHECK(reader.count() == expected);
    CHECK(static_cast<long long>(reader.count()) == db.count("SELECT count(*) FROM job_events"));
    CHECK(ids_increase(reader.events()));
    CHECK(reader.raw().size() > 2 * conveyor::kMaxPendingBytes);
    REQUIRE(
        wait_until([&] { return s->log_contains("subscriber dropped (too slow"); }, seconds(30)));
    // Dropped for passing the cap: more than kMaxPendingBytes unsent, but not much more (one
    // delivery's worth of slack), although the burst was several times the cap.
    auto unsent = unsent_at_slow_drop(s->log());
    INFO("unsent when dropped: " << unsent);
    CHECK(unsent > static_cast<long long>(conveyor::kMaxPendingBytes));
    CHECK(unsent < static_cast<long long>(conveyor::kMaxPendingBytes + (3u << 20)));
    long kb = peak_rss_kb(s->pid());
    INFO("VmHWM " << kb << " kB");
#ifndef CONVEYOR_SANITIZED
    CHECK(kb < 200 * 1024);
#endif
    // Dropped by a reset, its queued bytes discarded: reading on ends in ECONNRESET, not in the
    // rest of the stream and a clean end.
    bool reset = false;
    char buf[65536];
    for (int i = 0; i < 100000 && !reset; ++i) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            break;
        reset = n < 0 && errno == ECONNRESET;
        if (n < 0 && !reset)
            break;
    }
    CHECK(reset);
    close(fd);
}
