// Many clients resuming from the oldest kept event and never reading. Each asks for a replay of
// the whole window, 10,000 events of about 2.2 KB (22 MB): more than one subscriber may hold
// (kMaxPendingBytes) and than a replay may take (kMaxReplayBytes). Each starts with `event:
// reset` instead, so the flood costs what its reset frames cost, not 22 MB a client.
#include <catch2/catch.hpp>

#include <memory>

#include "actors/sse_broadcaster.hpp"

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/jobs.hpp"
#include "support/proc_stats.hpp"
#include "support/raw_conn.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using std::chrono::seconds;

TEST_CASE("a replay flood of never-reading resumes keeps the server's memory bounded") {
    const int kJobs = 1600, kFlood = 50; // 11,200 events of 2 KB errors; 50 replays of 22 MB
    TestDatabase db;
    auto s = start_testd(db, {{"BACKOFF_BASE_MS", "1"}, {"BACKOFF_MAX_S", "1"}});
    submit_copies(*s,
                  {{"job_type", "test"},
                   {"payload", {{"fail", "transient"}, {"error_bytes", 2000}}},
                   {"max_attempts", 3}},
                  kJobs);
    REQUIRE(wait_until([&] { return db.count("SELECT count(*) FROM job_events") >= 7 * kJobs; },
                       seconds(180)));
    auto head = db.count("SELECT max(id) FROM job_events");
    auto oldest = std::to_string(head - static_cast<long long>(conveyor::kEventWindow) + 1);
    // Within the window, but too far behind: a reset, then live events.
    SseClient probe(s->base_url() + "/events", {"Last-Event-ID: " + oldest});
    REQUIRE(wait_until([&] { return probe.count() >= 1; }, seconds(30)));
    CHECK(probe.events()[0].event == "reset");
    CHECK(probe.events()[0].data.find("too far behind") != std::string::npos);
    // A recent id still gets its replay.
    SseClient recent(s->base_url() + "/events", {"Last-Event-ID: " + std::to_string(head - 100)});
    REQUIRE(wait_until([&] { return recent.count() >= 100; }, seconds(30)));
    CHECK(recent.events()[0].event == "job");

    std::vector<std::unique_ptr<RawConn>> flood;
    for (int i = 0; i < kFlood; ++i) {
        flood.push_back(std::make_unique<RawConn>(s->port(), 4096));
        REQUIRE(flood.back()->ok());
        REQUIRE(flood.back()->send_all(
            "GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + oldest + "\r\n\r\n"));
    }
    CHECK(http("GET", s->base_url() + "/healthz", "", {}, 15000).status == 200);
    submit(*s, {{"job_type", "noop"}});
    CHECK(wait_until([&] { return probe.count() >= 4; }, seconds(20))); // reset, then live
    long peak = peak_rss_kb(s->pid());
    WARN("peak RSS " << peak << " kB");
#ifndef CONVEYOR_SANITIZED
    // 50 full replays would be 1.1 GB.
    CHECK(peak < 300 * 1024);
#endif
}
