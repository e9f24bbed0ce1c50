// SPEC §7 against real processes (the test daemon: the service plus a `test` job type) and a real
// PostgreSQL. Waits are conditions with deadlines, never fixed sleeps.
#include <catch2/catch.hpp>

#include <signal.h>

#include <memory>
#include <thread>

#include "support/api.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/jobs.hpp"
#include "support/server_process.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

std::unique_ptr<ServerProcess> start(const TestDatabase& db,
                                     std::map<std::string, std::string> env = {}) {
    return start_testd(db, std::move(env));
}

void submit_batch(const ServerProcess& s, const json& job, int n) {
    submit_copies(s, job, n);
}

// Most executions overlapping at one instant, from the recorded start/finish times.
long long max_overlap(const TestDatabase& db, const std::string& where = "true") {
    return db.count(
        "SELECT coalesce(max(c), 0) FROM (SELECT (SELECT count(*) FROM test_executions b WHERE " +
        where +
        " AND b.started_at <= a.started_at AND b.finished_at > a.started_at) AS c FROM "
        "test_executions a WHERE " +
        where + ") x");
}

} // namespace

TEST_CASE("2,000 noop jobs all reach done with one attempt each") {
    TestDatabase db;
    auto s = start(db);
    submit_batch(*s, {{"job_type", "noop"}, {"payload", json::object()}}, 2000);
    CHECK(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 2000; },
        seconds(60)));
    CHECK(db.count("SELECT count(*) FROM jobs WHERE attempts <> 1") == 0);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE locked_by IS NOT NULL OR processing_started_at "
                   "IS NOT NULL") == 0);
}

TEST_CASE("never more than WORKER_CONCURRENCY jobs run at once, and the cap is used") {
    TestDatabase db;
    create_executions_table(db);
    auto s = start(db, {{"WORKER_CONCURRENCY", "3"}});
    submit_batch(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 300}, {"record", true}}}},
                 12);
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 12; },
        seconds(30)));
    CHECK(db.count("SELECT count(*) FROM test_executions") == 12);
    CHECK(max_overlap(db) == 3);
}

TEST_CASE("a transient failure is retried after about 1 s, then 5 s, then fails") {
    TestDatabase db;
    create_executions_table(db);
    auto s = start(db);
    auto id = submit(*s, {{"job_type", "test"},
                          {"payload", {{"fail", "transient"}, {"record", true}}},
                          {"max_attempts", 3}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "failed"); }, seconds(20)));
    auto j = get_job(*s, id);
    CHECK(j["attempts"] == 3);
    CHECK(j["last_error"] == "test failure on attempt 3");
    auto gaps = db.exec("SELECT extract(epoch FROM started_at - lag(finished_at) OVER (ORDER BY "
                        "attempt))::float8 FROM test_executions "
                        "ORDER BY attempt");
    REQUIRE(gaps.size() == 3);
    double first = gaps[1][0].as<double>(), second = gaps[2][0].as<double>();
    // Lower bounds and order are the behaviour; the upper bounds only catch a lost timer (a
    // loaded 2-core machine may add seconds; speed is measured in bench/).
    INFO("gaps " << first << " s, " << second << " s");
    CHECK(first >= 0.95);
    CHECK(second >= 4.95);
    CHECK(second > first);
    CHECK(first < 10.0);
    CHECK(second < 20.0);
}

TEST_CASE("a retry that then succeeds ends done, keeping the last error") {
    TestDatabase db;
    auto s = start(db, {{"BACKOFF_BASE_MS", "50"}});
    auto id = submit(
        *s, {{"job_type", "test"}, {"payload", {{"fail", "transient"}, {"fail_attempts", 2}}}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "done"); }, seconds(10)));
    CHECK(get_job(*s, id)["attempts"] == 3);
    CHECK(get_job(*s, id)["last_error"] == "test failure on attempt 2");
}

TEST_CASE("a permanent failure fails after one attempt") {
    TestDatabase db;
    auto s = start(db);
    auto id = submit(
        *s, {{"job_type", "test"}, {"payload", {{"fail", "permanent"}}}, {"max_attempts", 5}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "failed"); }, seconds(10)));
    CHECK(get_job(*s, id)["attempts"] == 1);
    CHECK(get_job(*s, id)["last_error"] == "test failure on attempt 1");
}

TEST_CASE("an unknown job type stored directly fails permanently") {
    TestDatabase db;
    auto s = start(db);
    db.exec("INSERT INTO jobs (job_type, payload) VALUES ('ghost', '{}'); NOTIFY conveyor_wake");
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'failed'") == 1; },
        seconds(10)));
    CHECK(db.text("SELECT last_error FROM jobs").find("unknown job_type 'ghost'") !=
          std::string::npos);
}

TEST_CASE("run_at in the future is respected") {
    TestDatabase db;
    auto s = start(db);
    auto run_at = db.text("SELECT conveyor_ts(now() + interval '1500 milliseconds')");
    auto id = submit(*s, {{"job_type", "noop"}, {"run_at", run_at}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "done"); }, seconds(10)));
    CHECK(
        db.count("SELECT count(*) FROM jobs WHERE updated_at >= scheduled_at AND scheduled_at = '" +
                 run_at + "'") == 1);
}

// The handler ignores its deadline: only the claimer's timer can fail the attempt, and the slot
// stays taken until the handler returns.
TEST_CASE("an attempt longer than JOB_TIMEOUT_S fails with timeout") {
    TestDatabase db;
    create_executions_table(db);
    auto s = start(db, {{"JOB_TIMEOUT_S", "1"}, {"WORKER_CONCURRENCY", "1"}});
    auto slow =
        submit(*s, {{"job_type", "test"},
                    {"payload", {{"sleep_ms", 6000}, {"ignore_deadline", true}, {"record", true}}},
                    {"max_attempts", 1}});
    REQUIRE(wait_until([&] { return status_is(*s, slow, "processing"); }, seconds(10)));
    auto next = submit(*s, {{"job_type", "test"}, {"payload", {{"record", true}}}});
    auto failed = wait_for_status(*s, slow, "failed", 15);
    CHECK(failed["last_error"] == "timeout: attempt ran longer than 1 s");
    CHECK(s->log_contains("exceeded JOB_TIMEOUT_S=1"));
    // Failed by the timer while its handler still sleeps: the only slot is still taken.
    CHECK(db.count("SELECT count(*) FROM test_executions") == 0);
    CHECK(status_of(*s, next) == "pending");

    wait_for_status(*s, next, "done", 20);
    auto order = db.exec("SELECT job_id::text FROM test_executions "
                         "ORDER BY started_at");
    REQUIRE(order.size() == 2);
    CHECK(order[0][0].c_str() == slow);
    CHECK(db.count("SELECT count(*) FROM test_executions a, test_executions b WHERE a.job_id = '" +
                   slow + "' AND b.job_id = '" + next + "' AND b.started_at >= a.finished_at") ==
          1);
    // The handler's late success does not overwrite the recorded timeout.
    auto after = get_job(*s, slow);
    CHECK(after["status"] == "failed");
    CHECK(after["attempts"] == 1);
    CHECK(after["last_error"] == "timeout: attempt ran longer than 1 s");
}

TEST_CASE("NOTIFY wakes an idle worker, also after its LISTEN connection is killed") {
    TestDatabase db;
    auto s = start(db, {{"POLL_INTERVAL_MS", "60000"}});
    // Let the start-up claim and next-due check pass, so only NOTIFY can start the next job.
    REQUIRE(wait_until(
        [&] {
            return db.count("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND application_name = 'conveyor:listener'") == 1;
        },
        seconds(10)));
    // POLL_INTERVAL_MS is a minute: anything well under it is NOTIFY (generous for a loaded host).
    auto first = submit(*s, {{"job_type", "noop"}});
    CHECK(wait_until([&] { return status_is(*s, first, "done"); }, seconds(15), milliseconds(5)));

    db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND application_name = 'conveyor:listener'");
    REQUIRE(wait_until([&] { return s->log_contains("LISTEN connection re-established"); },
                       seconds(10)));
    auto second = submit(*s, {{"job_type", "noop"}});
    CHECK(wait_until([&] { return status_is(*s, second, "done"); }, seconds(15), milliseconds(5)));
}

TEST_CASE("a job whose worker was SIGKILLed is reclaimed by another process") {
    TestDatabase db;
    // A short maintainer lease: the killed process held it, and only the maintainer reaps.
    std::map<std::string, std::string> fast = {{"STALE_AFTER_S", "2"},
                                               {"HEARTBEAT_INTERVAL_S", "1"},
                                               {"REAPER_INTERVAL_S", "1"},
                                               {"BACKOFF_BASE_MS", "100"},
                                               {"MAINTAINER_LEASE_S", "3"}};
    auto a = start(db, fast);
    auto id = submit(
        *a, {{"job_type", "test"}, {"payload", {{"sleep_ms", 60000}, {"sleep_attempts", 1}}}});
    REQUIRE(wait_until([&] { return status_is(*a, id, "processing"); }, seconds(10)));
    a->signal(SIGKILL);
    REQUIRE(a->wait_exit(10000) == -1000 - SIGKILL);
    auto b = start(db, fast);
    REQUIRE(wait_until([&] { return status_is(*b, id, "done"); }, seconds(20)));
    auto j = get_job(*b, id);
    CHECK(j["attempts"] == 2);
    CHECK(j["last_error"].get<std::string>().find("worker lost") == 0);
    CHECK(b->log_contains("returned 1 lost jobs"));
}

TEST_CASE("a long job that heartbeats is never reclaimed") {
    TestDatabase db;
    create_executions_table(db);
    std::map<std::string, std::string> fast = {
        {"STALE_AFTER_S", "2"}, {"HEARTBEAT_INTERVAL_S", "1"}, {"REAPER_INTERVAL_S", "1"}};
    auto a = start(db, fast);
    auto b = start(db, fast); // a second reaper that must not steal the job either
    auto id =
        submit(*a, {{"job_type", "test"}, {"payload", {{"sleep_ms", 5000}, {"record", true}}}});
    REQUIRE(wait_until([&] { return status_is(*a, id, "done"); }, seconds(20)));
    CHECK(get_job(*a, id)["attempts"] == 1);
    CHECK(db.count("SELECT count(*) FROM test_executions") == 1);
    CHECK_FALSE(a->log_contains("lost jobs"));
    CHECK_FALSE(b->log_contains("lost jobs"));
}

TEST_CASE("three processes finish 3,000 jobs, each exactly once") {
    TestDatabase db;
    create_executions_table(db);
    std::vector<std::unique_ptr<ServerProcess>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start(db));
    submit_batch(*procs[0], {{"job_type", "test"}, {"payload", {{"record", true}}}}, 1500);
    submit_batch(*procs[2], {{"job_type", "test"}, {"payload", {{"record", true}}}}, 1500);
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 3000; },
        seconds(120)));
    CHECK(db.count("SELECT count(*) FROM test_executions") == 3000);
    CHECK(db.count("SELECT count(DISTINCT job_id) FROM test_executions") == 3000);
    CHECK(db.count("SELECT count(DISTINCT pid) FROM test_executions") == 3); // all took part
}

TEST_CASE("SIGTERM lets running jobs finish, then exits 0") {
    TestDatabase db;
    auto s = start(db);
    auto id = submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 1500}}}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "processing"); }, seconds(10)));
    s->signal(SIGTERM);
    CHECK(s->wait_exit() == 0);
    CHECK(db.text("SELECT status FROM jobs") == "done");
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 0);
}

TEST_CASE("SIGTERM past the grace period returns running jobs to pending, uncounted") {
    TestDatabase db;
    auto s = start(db, {{"SHUTDOWN_TIMEOUT_S", "1"}});
    auto id = submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 30000}}}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "processing"); }, seconds(10)));
    s->signal(SIGTERM);
    CHECK(s->wait_exit(15000) == 0);
    CHECK(db.text("SELECT status FROM jobs") == "pending");
    CHECK(db.count("SELECT attempts FROM jobs") == 0);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE locked_by IS NOT NULL") == 0);
}

TEST_CASE("POST /jobs answers 503 while shutting down") {
    TestDatabase db;
    auto s = start(db, {{"SHUTDOWN_TIMEOUT_S", "5"}});
    auto id = submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 3000}}}});
    REQUIRE(wait_until([&] { return status_is(*s, id, "processing"); }, seconds(10)));
    s->signal(SIGTERM);
    REQUIRE(wait_until([&] { return s->log_contains("received SIGTERM"); }, seconds(5)));
    auto r = http_post_json(s->base_url() + "/jobs", R"({"job_type":"noop"})");
    CHECK(r.status == 503);
    CHECK(r.json()["error"]["code"] == "shutting_down");
    CHECK(s->wait_exit() == 0);
}
