// Many clients resuming from the oldest kept event and never reading: the replays they ask for
// (about 2.7 MB each here) are bounded all together, not one by one.
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
    const int kJobs = 3500, kFlood = 300; // 10,500 events; 300 replays of the whole window
    TestDatabase db;
    auto s = start_testd(db);
    submit_copies(*s, {{"job_type", "noop"}}, kJobs);
    REQUIRE(wait_until([&] { return db.count("SELECT count(*) FROM job_events") >= 3 * kJobs; },
                       seconds(120)));
    auto head = db.count("SELECT max(id) FROM job_events");
    auto oldest = std::to_string(head - static_cast<long long>(conveyor::kEventWindow) + 1);
    // The window is complete: a client resuming from its start gets a replay, not a reset.
    SseClient probe(s->base_url() + "/events", {"Last-Event-ID: " + oldest});
    REQUIRE(wait_until([&] { return probe.count() >= conveyor::kEventWindow - 1; }, seconds(60)));
    CHECK(probe.raw().find("event: reset") == std::string::npos);
    probe.stop();

    long before = rss_kb(s->pid());
    std::vector<std::unique_ptr<RawConn>> flood;
    for (int i = 0; i < kFlood; ++i) {
        flood.push_back(std::make_unique<RawConn>(s->port(), 4096));
        REQUIRE(flood.back()->ok());
        REQUIRE(flood.back()->send_all(
            "GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + oldest + "\r\n\r\n"));
    }
    // The stalled ones are dropped after kSlowFor; the server answers meanwhile and after.
    CHECK(http("GET", s->base_url() + "/healthz", "", {}, 15000).status == 200);
    REQUIRE(
        wait_until([&] { return s->log_contains("subscriber dropped (too slow"); }, seconds(30)));
    SseClient live(s->base_url() + "/events");
    REQUIRE(
        wait_until([&] { return live.raw().find("retry:") != std::string::npos; }, seconds(10)));
    submit(*s, {{"job_type", "noop"}});
    CHECK(wait_until([&] { return live.count() >= 3; }, seconds(20)));
    long peak = peak_rss_kb(s->pid());
    INFO("RSS " << before << " kB before the flood, peak " << peak << " kB");
#ifndef CONVEYOR_SANITIZED
    // The 256 MiB budget of all streams plus the process itself; 300 full replays are 800 MB.
    CHECK(peak < 450 * 1024);
#endif
}
