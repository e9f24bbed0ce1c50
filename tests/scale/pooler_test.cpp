// Issue 16 item 3: three processes through PgBouncer in transaction mode (Debian 12's 1.18),
// LISTEN_DATABASE_URL straight to PostgreSQL. The pooler resets every server connection after
// every transaction (DISCARD ALL) and has fewer server connections than the processes have
// clients, so a statement that relied on session state (a prepared statement, a SET, an advisory
// lock, a temp table) would fail or act on another client's session: every check below would see
// it.
#include <catch2/catch.hpp>

#include <signal.h>

#include "scale/scale_support.hpp"
#include "support/api.hpp"
#include "support/env.hpp"
#include "support/fake_http_server.hpp"
#include "support/pg_cluster.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

PgBouncer pooler_for_tests(int pool_size) {
    return PgBouncer(env_or_fail("CONVEYOR_TEST_PG_DIR"),
                     std::stoi(env_or_fail("CONVEYOR_TEST_PG_PORT")), pool_size);
}

std::map<std::string, std::string> pooled_env(const TestDatabase& db, const PgBouncer& pooler) {
    return {{"DATABASE_URL", pooler.url(db.name())},
            {"LISTEN_DATABASE_URL", db.url()},
            {"WORKER_CONCURRENCY", "4"},
            // Only NOTIFY (through the direct LISTEN session) wakes a claimer in time.
            {"POLL_INTERVAL_MS", "60000"},
            {"HEARTBEAT_INTERVAL_S", "1"},
            {"STALE_AFTER_S", "3"},
            {"REAPER_INTERVAL_S", "1"},
            {"MAINTAINER_LEASE_S", "3"},
            {"BACKOFF_BASE_MS", "100"},
            {"BACKOFF_MAX_S", "1"}};
}

long long done_events(const SseClient& c) {
    long long n = 0;
    for (const auto& e : c.events())
        if (e.event == "job" && e.data.find("\"status\":\"done\"") != std::string::npos)
            ++n;
    return n;
}

} // namespace

TEST_CASE("three processes through PgBouncer in transaction mode: drain, SSE, the maintainer "
          "lease and cancellation",
          "[scale][pooler]") {
    TestDatabase db;
    create_executions_table(db);
    auto pooler = pooler_for_tests(4);
    Procs procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_testd(db, pooled_env(db, pooler)));
    // Events of every process reach a subscriber of another one.
    SseClient events(procs[2]->base_url() + "/events");
    REQUIRE(
        wait_until([&] { return events.raw().find("retry:") != std::string::npos; }, seconds(10)));

    // Drain: exactly once, caps held, NOTIFY wakes the claimers (the poll is a minute away).
    auto f = drain_recorded(procs, db, 1500);
    check_exactly_once(f, procs.size(), 4);
    CHECK(wait_until([&] { return done_events(events) == f.jobs; }, seconds(20)));
    long long delivered = done_events(events);

    // Cancellation: asked of one process, reaching the attempt wherever it runs (a webhook held
    // for 30 s: only the cancel can end it early).
    FakeHttpServer sink([](const Request&, int) {
        Response r(200, "late");
        r.delay_ms = 30000;
        return r;
    });
    auto long_job =
        submit(*procs[0], {{"job_type", "webhook"},
                           {"payload", {{"url", sink.url("/hold")}, {"timeout_ms", 60000}}}});
    wait_for_status(*procs[0], long_job, "processing");
    auto cancel = http("POST", procs[1]->base_url() + "/jobs/" + long_job + "/cancel", "", {});
    CHECK(cancel.status == 202);
    auto cancel_at = std::chrono::steady_clock::now();
    wait_for_status(*procs[1], long_job, "cancelled", 10);
    double cancel_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - cancel_at).count();

    // The maintainer lease: one holder; when it is SIGKILLed another takes over and its reaper
    // returns the jobs the dead process was running.
    std::vector<size_t> now;
    REQUIRE(wait_until(
        [&] {
            now = leaders(procs);
            return now.size() == 1;
        },
        seconds(15), milliseconds(100)));
    const size_t leader = now[0];
    std::vector<std::string> held;
    for (int i = 0; i < 12; ++i)
        held.push_back(
            submit(*procs[leader], {{"job_type", "test"},
                                    {"payload", {{"sleep_ms", 8000}, {"sleep_attempts", 1}}},
                                    {"max_attempts", 5}}));
    REQUIRE(wait_until(
        [&] {
            return db.count("SELECT count(*) FROM jobs WHERE status = 'processing' AND locked_by "
                            "LIKE '%:" +
                            std::to_string(procs[leader]->pid()) + ":%'") > 0;
        },
        seconds(10)));
    procs[leader]->signal(SIGKILL);
    procs[leader]->wait_exit(10000);
    auto killed_at = std::chrono::steady_clock::now();
    REQUIRE(wait_until(
        [&] {
            now = leaders(procs);
            return now.size() == 1 && now[0] != leader;
        },
        seconds(20), milliseconds(100)));
    double takeover_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    const auto& survivor = *procs[now[0]];
    for (const auto& id : held)
        wait_for_status(survivor, id, "done", 30);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 0);

    for (size_t i = 0; i < procs.size(); ++i) {
        INFO("process " << i << " log:\n" << log_tail(procs[i]->log()));
        CHECK(error_lines(procs[i]->log()).empty());
        CHECK_FALSE(procs[i]->log_contains("prepared statement"));
    }
    json figures = to_json(f);
    figures["pool_size"] = 4;
    figures["done_events_on_another_process"] = delivered;
    figures["cancel_s"] = cancel_s;
    figures["maintainer_takeover_s"] = takeover_s;
    WARN("pooler: " << figures.dump());
    scale_report("pgbouncer_transaction_mode", figures);
}

TEST_CASE("the pooler test's PgBouncer breaks a client that relies on session state",
          "[scale][pooler]") {
    // Without LISTEN_DATABASE_URL Conveyor takes DATABASE_URL for a session connection and
    // prepares named statements: the check above would catch that.
    TestDatabase db;
    auto pooler = pooler_for_tests(2);
    auto s = start_service(conveyor_binary(), db, {{"DATABASE_URL", pooler.url(db.name())}});
    long status = 0;
    for (int i = 0; i < 5 && status != 500; ++i)
        status = http_get(s->base_url() + "/jobs").status;
    INFO(log_tail(s->log()));
    CHECK(status == 500);
    CHECK(s->log_contains("prepared statement"));
}
