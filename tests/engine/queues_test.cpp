// Queues and priorities (SPEC §8) against real processes and a real PostgreSQL. Concurrency is
// measured from the start and finish times each attempt records, never from timing guesses.
#include <catch2/catch.hpp>

#include <algorithm>

#include "store/migrations.hpp"
#include "support/api.hpp"
#include "support/env.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::seconds;

namespace {

json slow_job(const std::string& queue, int sleep_ms, int priority = 0) {
    return {{"job_type", "test"},
            {"queue", queue},
            {"priority", priority},
            {"payload", {{"sleep_ms", sleep_ms}, {"record", true}}}};
}

bool all_done(const TestDatabase& db, long long n, seconds timeout = seconds(60)) {
    return wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == n; }, timeout);
}

// The largest number of recorded attempts of `queue` running at one instant.
long long max_overlap(const TestDatabase& db, const std::string& queue) {
    return db.count("SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM test_executions "
                    "o JOIN jobs oj ON oj.id = o.job_id WHERE oj.queue = '" +
                    queue +
                    "' AND o.started_at <= e.started_at AND o.finished_at > e.started_at) AS n "
                    "FROM test_executions e JOIN jobs j ON j.id = e.job_id WHERE j.queue = '" +
                    queue + "') x");
}

HttpResponse queue_action(const ServerProcess& s, const std::string& name,
                          const std::string& action) {
    return http("POST", s.base_url() + "/queues/" + name + "/" + action, "", {});
}

HttpResponse set_limit(const ServerProcess& s, const std::string& name, const std::string& limit) {
    return http("PATCH", s.base_url() + "/queues/" + name,
                R"({"concurrency_limit":)" + limit + "}");
}

} // namespace

TEST_CASE("with one slot, jobs run by priority, then in submission order") {
    TestDatabase db;
    create_executions_table(db);
    auto s = start_service(testd_binary(), db, {{"WORKER_CONCURRENCY", "1"}});
    REQUIRE(queue_action(*s, "default", "pause").status == 200);
    std::vector<json> jobs;
    for (int i = 0; i < 30; ++i) {
        auto job = slow_job("default", 0, (i * 7) % 10);
        job["payload"]["n"] = i;
        jobs.push_back(job);
    }
    submit_batch(*s, json(jobs));
    REQUIRE(queue_action(*s, "default", "resume").status == 200);
    REQUIRE(all_done(db, 30));
    auto rows =
        db.exec("SELECT j.priority, (j.payload->>'n')::int FROM test_executions e JOIN jobs "
                "j ON j.id = e.job_id ORDER BY e.started_at");
    REQUIRE(rows.size() == 30);
    std::vector<std::pair<int, int>> ran, expected;
    for (const auto& r : rows)
        ran.emplace_back(r[0].as<int>(), r[1].as<int>());
    for (int i = 0; i < 30; ++i)
        expected.emplace_back((i * 7) % 10, i);
    std::sort(expected.begin(), expected.end());
    CHECK(ran == expected);
}

TEST_CASE("local caps: QUEUES=a:2,b:3 never runs more than 2 and 3 at once, and reaches both") {
    TestDatabase db;
    create_executions_table(db);
    auto s =
        start_service(testd_binary(), db, {{"WORKER_CONCURRENCY", "5"}, {"QUEUES", "a:2,b:3"}});
    std::vector<json> jobs;
    for (int i = 0; i < 12; ++i) {
        jobs.push_back(slow_job("a", 300));
        jobs.push_back(slow_job("b", 300));
    }
    submit_batch(*s, json(jobs));
    REQUIRE(all_done(db, 24));
    CHECK(max_overlap(db, "a") == 2);
    CHECK(max_overlap(db, "b") == 3);
}

TEST_CASE("a global concurrency limit holds exactly across three processes, also after a change") {
    TestDatabase db;
    create_executions_table(db);
    std::vector<std::unique_ptr<ServerProcess>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_service(testd_binary(), db, {{"WORKER_CONCURRENCY", "10"}}));
    REQUIRE(set_limit(*procs[0], "limited", "4").status == 200);
    submit_copies(*procs[0], slow_job("limited", 40), 200);
    REQUIRE(all_done(db, 200, seconds(120)));
    CHECK(max_overlap(db, "limited") == 4);
    CHECK(db.count("SELECT count(DISTINCT pid) FROM test_executions") == 3);

    db.exec("DELETE FROM test_executions");
    auto r = set_limit(*procs[1], "limited", "2");
    REQUIRE(r.status == 200);
    CHECK(r.json()["concurrency_limit"] == 2);
    submit_copies(*procs[2], slow_job("limited", 40), 100);
    REQUIRE(all_done(db, 300, seconds(120)));
    CHECK(max_overlap(db, "limited") == 2);
}

TEST_CASE("a paused queue waits in every process while others run, and runs at once on resume") {
    TestDatabase db;
    create_executions_table(db);
    std::map<std::string, std::string> slow_poll = {{"POLL_INTERVAL_MS", "60000"}};
    auto a = start_service(testd_binary(), db, slow_poll);
    auto b = start_service(testd_binary(), db, slow_poll);
    auto paused = queue_action(*a, "reports", "pause");
    REQUIRE(paused.status == 200);
    CHECK(paused.json()["paused"] == true);
    CHECK(queue_action(*b, "reports", "pause").json()["paused"] == true); // idempotent
    std::vector<json> jobs(20, slow_job("reports", 0));
    for (int i = 0; i < 20; ++i)
        jobs.push_back(slow_job("mail", 0));
    submit_batch(*a, json(jobs));
    REQUIRE(all_done(db, 20));
    CHECK(db.count("SELECT count(*) FROM jobs WHERE queue = 'reports' AND status = 'pending'") ==
          20);
    auto listed = http_get(b->base_url() + "/queues/reports").json();
    CHECK(listed["pending"] == 20);
    CHECK(listed["paused"] == true);
    // Well inside the 60 s poll: only the resume's NOTIFY can start them this soon.
    REQUIRE(queue_action(*b, "reports", "resume").status == 200);
    CHECK(all_done(db, 40, seconds(10)));
}

TEST_CASE("a queue no process works keeps its jobs pending and shows them in GET /queues") {
    TestDatabase db;
    create_executions_table(db);
    auto s = start_service(testd_binary(), db, {{"QUEUES", "mail"}});
    submit_batch(*s, json::array({slow_job("nobody", 0), slow_job("mail", 0)}));
    REQUIRE(all_done(db, 1));
    auto queues = http_get(s->base_url() + "/queues").json();
    REQUIRE(queues.is_array());
    json nobody;
    for (const auto& q : queues)
        if (q["name"] == "nobody")
            nobody = q;
    CHECK(nobody["pending"] == 1);
    CHECK(nobody["processing"] == 0);
    CHECK(nobody["oldest_pending_age_s"].is_number());
    CHECK(db.count("SELECT count(*) FROM jobs WHERE queue = 'nobody' AND status = 'pending'") == 1);
}

TEST_CASE("bad queues, priorities and queue patches are refused naming the field") {
    Api api;
    auto bad = [&](const std::string& path, const std::string& body, const std::string& code) {
        check_error(http_post_json(api.url(path), body), 422, code);
    };
    bad("/jobs", R"({"job_type":"noop","queue":"Mail"})", "invalid_queue");
    bad("/jobs", R"({"job_type":"noop","queue":""})", "invalid_queue");
    bad("/jobs", R"({"job_type":"noop","queue":7})", "invalid_queue");
    bad("/jobs", R"({"job_type":"noop","priority":10})", "invalid_priority");
    bad("/jobs", R"({"job_type":"noop","priority":1.5})", "invalid_priority");
    bad("/jobs/batch", R"({"jobs":[{"job_type":"noop","priority":-1}]})", "invalid_priority");
    check_error(http("PATCH", api.url("/queues/mail"), R"({"concurrency_limit":-1})"), 422,
                "invalid_concurrency_limit");
    check_error(http("PATCH", api.url("/queues/mail"), R"({"limit":1})"), 422,
                "invalid_queue_patch");
    check_error(http("PATCH", api.url("/queues/Mail"), R"({"concurrency_limit":1})"), 400,
                "invalid_queue");
    check_error(http_get(api.url("/queues/nope")), 404, "not_found");
    check_error(http_get(api.url("/jobs?queue=Bad")), 400, "invalid_query");
    check_error(http_get(api.url("/events?queue=Bad")), 400, "invalid_query");
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("a database made by the previous release upgrades in place and keeps every row") {
    TestDatabase db;
    {
        // The schema as the previous release left it: migrations 001-004.
        pqxx::connection conn(db.url());
        pqxx::work tx(conn);
        tx.exec0("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())");
        for (const auto& m : conveyor::store::embedded_migrations())
            if (m.version <= 4) {
                tx.exec(m.sql);
                tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                m.version, std::string(m.name));
            }
        tx.exec0("INSERT INTO jobs (job_type, status, attempts, scheduled_at) VALUES "
                 "('noop', 'pending', 0, now()), ('noop', 'done', 1, now()), "
                 "('noop', 'failed', 3, now()), ('noop', 'pending', 0, now() + interval '1 day')");
        tx.exec0("INSERT INTO jobs (job_type, status, attempts, locked_by, heartbeat_at, "
                 "lease_expires_at) VALUES ('noop', 'processing', 1, 'old:1:x', now(), "
                 "now() + interval '1 hour')");
        tx.commit();
    }
    auto s = start_service(conveyor_binary(), db);
    REQUIRE(all_done(db, 2));
    CHECK(db.count("SELECT count(*) FROM jobs") == 5);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE queue = 'default' AND priority = 0") == 5);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status = 'failed'") == 1);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 1);
    CHECK(db.count("SELECT count(*) FROM schema_migrations") ==
          static_cast<long long>(conveyor::store::embedded_migrations().size()));
    CHECK(http_get(s->base_url() + "/queues/default").json()["pending"] == 1);
}
