// The time after which a running job counts as lost belongs to the process running it: a
// process with a short STALE_AFTER_S must not reclaim the live jobs of one with the defaults.
#include <catch2/catch.hpp>

#include <signal.h>

#include "support/api.hpp"
#include "support/env.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::seconds;

TEST_CASE("processes with different heartbeat settings never rerun each other's live jobs") {
    TestDatabase db;
    create_executions_table(db);
    // B: the defaults (heartbeat every 30 s, lost after 300 s), room for every job at once.
    auto b = start_service(testd_binary(), db, {{"WORKER_CONCURRENCY", "20"}});
    json batch = {{"jobs", json::array()}};
    for (int i = 0; i < 20; ++i)
        batch["jobs"].push_back(
            {{"job_type", "test"}, {"payload", {{"sleep_ms", 10000}, {"record", true}}}});
    REQUIRE(http_post_json(b->base_url() + "/jobs/batch", batch.dump()).status == 201);
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 20; },
        seconds(10)));
    // A: would call a job lost after 4 s without a heartbeat, and looks every second.
    auto a = start_service(
        testd_binary(), db,
        {{"STALE_AFTER_S", "4"}, {"HEARTBEAT_INTERVAL_S", "1"}, {"REAPER_INTERVAL_S", "1"}});
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 20; },
        seconds(40)));
    CHECK(db.count("SELECT count(*) FROM jobs WHERE attempts <> 1 OR last_error IS NOT NULL") == 0);
    CHECK(db.count("SELECT count(*) FROM test_executions") == 20);
    CHECK(db.count("SELECT count(DISTINCT pid) FROM test_executions") == 1);
    CHECK_FALSE(a->log_contains("lost jobs"));
}

TEST_CASE("a job is lost once its owner's own lease runs out") {
    TestDatabase db;
    // The owner leases for 3 s and is then stopped without a trace (SIGKILL); a reaper with far
    // longer settings of its own still reclaims the job as soon as that lease expired.
    // It also holds the maintainer lease, briefly (only the maintainer reaps).
    auto owner = start_service(
        testd_binary(), db,
        {{"STALE_AFTER_S", "3"}, {"HEARTBEAT_INTERVAL_S", "1"}, {"MAINTAINER_LEASE_S", "3"}});
    auto r =
        http_post_json(owner->base_url() + "/jobs",
                       R"({"job_type":"test","payload":{"sleep_ms":60000,"sleep_attempts":1}})");
    REQUIRE(r.status == 201);
    auto id = r.json()["id"].get<std::string>();
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 1; },
        seconds(10)));
    owner->signal(SIGKILL);
    CHECK(owner->wait_exit() == -1000 - SIGKILL);
    auto reaper =
        start_service(testd_binary(), db, {{"STALE_AFTER_S", "300"}, {"REAPER_INTERVAL_S", "1"}});
    REQUIRE(
        wait_until([&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 1; },
                   seconds(20)));
    auto job = http_get(reaper->base_url() + "/jobs/" + id).json();
    CHECK(job["attempts"] == 2);
    CHECK(job["last_error"].get<std::string>().rfind("worker lost", 0) == 0);
}
