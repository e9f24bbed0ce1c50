// Issue 7: fault injection against real service processes and a real PostgreSQL cluster.
// SIGKILLed workers, a restarted cluster, killed connections, a retry storm, failing statements
// and a read-only database. Each test writes its numbers to chaos-report.json (path from
// CONVEYOR_CHAOS_REPORT, or the current directory) and RELIABILITY.md describes them.
// Waits are conditions with deadlines; the only fixed pauses are the chaos intervals themselves.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "handlers/fake_http_server.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

double ms_since(steady::time_point t) {
    return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

// ---- the report -------------------------------------------------------------------------------

std::string report_path() {
    const char* p = std::getenv("CONVEYOR_CHAOS_REPORT");
    return p && *p ? p : "chaos-report.json";
}

// Merges one test's numbers into the report under `key`.
void report(const std::string& key, json value) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    json doc = json::object();
    {
        std::ifstream in(report_path());
        if (in) {
            std::stringstream ss;
            ss << in.rdbuf();
            doc = json::parse(ss.str(), nullptr, false);
            if (!doc.is_object())
                doc = json::object();
        }
    }
    value["finished_at_unix"] = std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    doc[key] = std::move(value);
    std::ofstream out(report_path(), std::ios::trunc);
    out << doc.dump(2) << "\n";
}

// ---- the PostgreSQL cluster started by scripts/test ------------------------------------------

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs pg_ctl as the cluster owner. `restart` on a stopped cluster starts it with the options
// recorded in postmaster.opts (port, socket dir, fsync...), exactly as scripts/lib/pg.sh did.
int pg_ctl(const std::string& args) {
    std::string dir = env_or_fail("CONVEYOR_TEST_PG_DIR");
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    std::string data = env_or_fail("CONVEYOR_TEST_PGDATA");
    const char* runas = std::getenv("CONVEYOR_TEST_PG_RUNAS");
    std::string cmd = "cd " + shell_quote(dir) + " && ";
    if (runas && *runas)
        cmd += "runuser -u " + shell_quote(runas) + " -- ";
    // -l: the server's output must not inherit our stdout (ctest would wait for it to close).
    cmd += shell_quote(bin + "/pg_ctl") + " -D " + shell_quote(data) + " -l " +
           shell_quote(dir + "/pg.log") + " -w -t 60 " + args + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
}

// Every backend of the database but ours; returns how many were terminated.
long long terminate_backends(const TestDatabase& db) {
    return db.count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()) t");
}

// ---- the service -----------------------------------------------------------------------------

void create_executions_table(const TestDatabase& db) {
    db.exec("CREATE TABLE test_executions (job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT "
            "NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)");
}

std::unique_ptr<ServerProcess> start(const std::string& binary, const TestDatabase& db,
                                     std::map<std::string, std::string> env = {}) {
    env.emplace("DATABASE_URL", db.url());
    auto p = std::make_unique<ServerProcess>(binary, env);
    REQUIRE(p->wait_ready());
    return p;
}

std::string tail(const std::string& log, size_t n = 4000) {
    return log.size() <= n ? log : log.substr(log.size() - n);
}

// POST /jobs/batch; returns the ids in order.
std::vector<std::string> submit_batch(const ServerProcess& s, const json& jobs) {
    auto r = http("POST", s.base_url() + "/jobs/batch", json{{"jobs", jobs}}.dump(),
                  {"Content-Type: application/json"}, 60000);
    INFO(r.body.substr(0, 500) << "\nlog:\n" << tail(s.log()));
    REQUIRE(r.status == 201);
    std::vector<std::string> ids;
    for (const auto& j : r.json())
        ids.push_back(j["id"]);
    REQUIRE(ids.size() == jobs.size());
    return ids;
}

std::string submit(const ServerProcess& s, const json& job) {
    auto r = http_post_json(s.base_url() + "/jobs", job.dump());
    INFO(r.body << "\nlog:\n" << tail(s.log()));
    REQUIRE(r.status == 201);
    return r.json()["id"];
}

std::string status_of(const ServerProcess& s, const std::string& id) {
    auto j = http_get(s.base_url() + "/jobs/" + id).json();
    return j.is_object() && j.contains("status") && j["status"].is_string()
               ? j["status"].get<std::string>()
               : "";
}

std::string uuid_array(const std::vector<std::string>& ids) {
    std::string out = "'{";
    for (size_t i = 0; i < ids.size(); ++i)
        out += (i ? "," : "") + ids[i];
    return out + "}'::uuid[]";
}

// Submitted ids that are not in the table, or not done.
long long missing(const TestDatabase& db, const std::vector<std::string>& ids) {
    if (ids.empty())
        return 0;
    return static_cast<long long>(ids.size()) -
           db.count("SELECT count(*) FROM jobs WHERE id = ANY(" + uuid_array(ids) + ")");
}
long long not_done(const TestDatabase& db, const std::vector<std::string>& ids) {
    if (ids.empty())
        return 0;
    return static_cast<long long>(ids.size()) -
           db.count("SELECT count(*) FROM jobs WHERE status = 'done' AND id = ANY(" +
                    uuid_array(ids) + ")");
}

bool is_error_json(const HttpResponse& r) {
    auto j = r.json();
    return j.is_object() && j.contains("error") && j["error"].is_object() &&
           j["error"]["code"].is_string() && !j["error"]["code"].get<std::string>().empty() &&
           j["error"]["message"].is_string() && !j["error"]["message"].get<std::string>().empty();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
}

// Webhook requests seen by the fake server: the tag from the body and the arrival time.
struct WebhookLog {
    std::mutex m;
    std::map<long, std::vector<steady::time_point>> by_tag;
    long total = 0;
    void add(const std::string& body) {
        auto j = json::parse(body, nullptr, false);
        long tag = j.is_object() && j["tag"].is_number_integer() ? j["tag"].get<long>() : -1;
        std::lock_guard<std::mutex> lock(m);
        by_tag[tag].push_back(steady::now());
        ++total;
    }
};

} // namespace

// ---- 1. SIGKILL mid-work, repeatedly ---------------------------------------------------------

TEST_CASE("chaos: 3 processes drain 10,000 jobs while one is SIGKILLed every 2 s", "[chaos]") {
    constexpr int kProcesses = 3, kKills = 10, kTestJobs = 5000, kWebhookJobs = 5000;
    constexpr int kWebhookDelayMs = 10;
    TestDatabase db;
    create_executions_table(db);
    WebhookLog hooks;
    handlertest::FakeHttpServer target([&](const handlertest::Request& req, int) {
        hooks.add(req.body);
        handlertest::Response r(200, "ok");
        r.delay_ms = kWebhookDelayMs;
        return r;
    });
    std::map<std::string, std::string> env = {
        {"STALE_AFTER_S", "2"},       {"HEARTBEAT_INTERVAL_S", "1"}, {"REAPER_INTERVAL_S", "1"},
        {"BACKOFF_BASE_MS", "50"},    {"BACKOFF_MAX_S", "1"},        {"WORKER_CONCURRENCY", "16"},
        {"POLL_INTERVAL_MS", "1000"}, {"JOB_TIMEOUT_S", "30"},
    };
    std::vector<std::unique_ptr<ServerProcess>> procs;
    for (int i = 0; i < kProcesses; ++i)
        procs.push_back(start(testd_binary(), db, env));

    // Jobs: test jobs (recording every attempt) and webhooks tagged with their index, in
    // batches of 1000 alternating types; half before the kills start, half during them.
    std::vector<json> batches;
    for (int b = 0; b < (kTestJobs + kWebhookJobs) / 1000; ++b) {
        json jobs = json::array();
        for (int i = 0; i < 1000; ++i) {
            long n = b * 1000L + i;
            if (n % 2 == 0)
                jobs.push_back({{"job_type", "test"},
                                {"payload", {{"sleep_ms", 10}, {"record", true}}},
                                {"max_attempts", 20}});
            else
                jobs.push_back({{"job_type", "webhook"},
                                {"payload", {{"url", target.url("/hook")}, {"body", {{"tag", n}}}}},
                                {"max_attempts", 20}});
        }
        batches.push_back(std::move(jobs));
    }
    std::vector<std::string> ids;       // every id answered 201
    std::map<long, std::string> by_tag; // webhook tag -> job id
    auto submit_next = [&](const ServerProcess& s, size_t b) {
        auto got = submit_batch(s, batches[b]);
        for (size_t i = 0; i < got.size(); ++i) {
            long n = static_cast<long>(b * 1000 + i);
            if (n % 2 == 1)
                by_tag[n] = got[i];
        }
        ids.insert(ids.end(), got.begin(), got.end());
    };
    size_t next_batch = 0;
    for (; next_batch < batches.size() / 2; ++next_batch)
        submit_next(*procs[next_batch % kProcesses], next_batch);

    auto remaining = [&] {
        return db.count("SELECT count(*) FROM jobs WHERE status <> 'done'") +
               static_cast<long long>(batches.size() - next_batch) * 1000;
    };
    std::mt19937 rng(std::random_device{}());
    int kills = 0;
    std::vector<long long> remaining_at_kill;
    auto chaos_start = steady::now();
    for (int k = 0; k < kKills; ++k) {
        std::this_thread::sleep_for(milliseconds(1500 + rng() % 1000));
        long long left = remaining();
        if (left == 0)
            break; // nothing left to interrupt
        int victim = static_cast<int>(rng() % kProcesses);
        procs[static_cast<size_t>(victim)]->signal(SIGKILL);
        REQUIRE(procs[static_cast<size_t>(victim)]->wait_exit(10000) == -1000 - SIGKILL);
        ++kills;
        remaining_at_kill.push_back(left);
        // Submit to a survivor while the victim is down.
        if (next_batch < batches.size()) {
            submit_next(*procs[static_cast<size_t>((victim + 1) % kProcesses)], next_batch);
            ++next_batch;
        }
        procs[static_cast<size_t>(victim)] = start(testd_binary(), db, env);
    }
    for (; next_batch < batches.size(); ++next_batch)
        submit_next(*procs[next_batch % kProcesses], next_batch);
    double chaos_s = ms_since(chaos_start) / 1000;

    bool drained = wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status <> 'done'") == 0; },
        seconds(150), milliseconds(250));
    INFO("not done: " << db.text("SELECT string_agg(status || ':' || n, ', ') FROM (SELECT status, "
                                 "count(*) n FROM jobs GROUP BY 1) x")
                      << "\nlog of process 0:\n"
                      << tail(procs[0]->log()));
    CHECK(drained);
    double total_s = ms_since(chaos_start) / 1000;

    const long long submitted = static_cast<long long>(ids.size());
    long long lost = missing(db, ids);
    long long undone = not_done(db, ids);
    long long rows = db.count("SELECT count(*) FROM jobs");

    // Test jobs: never two attempts of one job at once; the successful attempt was executed.
    long long overlapping =
        db.count("SELECT count(*) FROM test_executions a JOIN test_executions b ON a.job_id = "
                 "b.job_id AND a.ctid < b.ctid AND a.started_at < b.finished_at AND b.started_at "
                 "< a.finished_at");
    long long same_attempt_twice =
        db.count("SELECT count(*) FROM (SELECT job_id, attempt FROM test_executions GROUP BY 1, 2 "
                 "HAVING count(*) > 1) x");
    long long done_without_execution =
        db.count("SELECT count(*) FROM jobs j WHERE job_type = 'test' AND status = 'done' AND NOT "
                 "EXISTS (SELECT 1 FROM test_executions e WHERE e.job_id = j.id AND e.attempt = "
                 "j.attempts)");
    long long test_executions = db.count("SELECT count(*) FROM test_executions");
    long long test_jobs_executed = db.count("SELECT count(DISTINCT job_id) FROM test_executions");
    long long test_dups = test_executions - test_jobs_executed;
    long long reclaimed =
        db.count("SELECT count(*) FROM jobs WHERE last_error LIKE 'worker lost%'");
    long long max_attempts_used = db.count("SELECT max(attempts) FROM jobs");

    // Webhooks: requests per job, none overlapping, no more requests than attempts.
    std::map<std::string, long long> attempts_of;
    for (const auto& row :
         db.exec("SELECT id::text, attempts FROM jobs WHERE job_type = 'webhook'"))
        attempts_of[row[0].c_str()] = row[1].as<long long>();
    long long webhook_requests = 0, webhook_dups = 0, webhook_overlaps = 0,
              webhook_more_requests_than_attempts = 0, webhook_never_called = 0,
              unknown_requests = 0;
    {
        std::lock_guard<std::mutex> lock(hooks.m);
        webhook_requests = hooks.total;
        for (const auto& [tag, times] : hooks.by_tag) {
            auto it = by_tag.find(tag);
            if (it == by_tag.end()) {
                unknown_requests += static_cast<long long>(times.size());
                continue;
            }
            webhook_dups += static_cast<long long>(times.size()) - 1;
            if (static_cast<long long>(times.size()) > attempts_of[it->second])
                ++webhook_more_requests_than_attempts;
            for (size_t i = 1; i < times.size(); ++i)
                if (times[i] - times[i - 1] < milliseconds(kWebhookDelayMs))
                    ++webhook_overlaps;
        }
        for (const auto& [tag, id] : by_tag)
            if (!hooks.by_tag.count(tag))
                ++webhook_never_called;
    }

    WARN("SIGKILL chaos: " << kills << " kills over " << chaos_s << " s, " << submitted
                           << " jobs submitted, " << lost << " lost, " << undone
                           << " not done; duplicate executions: " << test_dups << " test + "
                           << webhook_dups << " webhook (" << reclaimed
                           << " jobs reclaimed by the reaper); drained in " << total_s << " s");
    report("sigkill", {{"processes", kProcesses},
                       {"kills", kills},
                       {"remaining_jobs_at_each_kill", remaining_at_kill},
                       {"jobs_submitted", submitted},
                       {"jobs_lost", lost},
                       {"jobs_not_done", undone},
                       {"duplicate_executions", test_dups + webhook_dups},
                       {"duplicate_test_executions", test_dups},
                       {"duplicate_webhook_requests", webhook_dups},
                       {"jobs_reclaimed_by_reaper", reclaimed},
                       {"max_attempts_used", max_attempts_used},
                       {"overlapping_attempts", overlapping + webhook_overlaps},
                       {"chaos_seconds", chaos_s},
                       {"total_seconds", total_s}});

    CHECK(kills >= 3); // the kills stop early only when the queue is already drained
    CHECK(submitted == kTestJobs + kWebhookJobs);
    CHECK(rows == submitted);
    CHECK(lost == 0);
    CHECK(undone == 0);
    CHECK(overlapping == 0);
    CHECK(same_attempt_twice == 0);
    CHECK(done_without_execution == 0);
    CHECK(test_jobs_executed == kTestJobs);
    CHECK(webhook_overlaps == 0);
    CHECK(webhook_more_requests_than_attempts == 0);
    CHECK(webhook_never_called == 0);
    CHECK(unknown_requests == 0);
    CHECK(webhook_requests >= kWebhookJobs);
}

// ---- 2. PostgreSQL restart -------------------------------------------------------------------

// The test cluster runs with synchronous_commit = off: this also checks that the writer turns it
// back on for its own commits (a 201 that did not survive an immediate stop was found this way).
TEST_CASE("chaos: PostgreSQL stopped (fast, then immediate) and started again under load",
          "[chaos]") {
    TestDatabase db;
    auto s = start(testd_binary(), db,
                   {{"POLL_INTERVAL_MS", "60000"},
                    {"WORKER_CONCURRENCY", "4"},
                    {"HEARTBEAT_INTERVAL_S", "1"},
                    {"STALE_AFTER_S", "5"},
                    {"REAPER_INTERVAL_S", "1"},
                    {"BACKOFF_BASE_MS", "100"},
                    {"BACKOFF_MAX_S", "1"}});
    SseClient sse(s->base_url() + "/events");
    REQUIRE(wait_until([&] { return sse.raw().find("retry:") != std::string::npos; }, seconds(10)));

    // A steady trickle of submissions for the whole test: each must be answered, quickly.
    std::mutex m;
    std::vector<std::string> accepted; // answered 201
    std::map<std::string, steady::time_point> accepted_at;
    std::map<std::string, steady::time_point> stopped_at; // mode -> when pg_ctl stop returned
    std::map<long, long> statuses;                        // status -> count
    double slowest_ms = 0;
    std::atomic<bool> stop{false};
    std::thread submitter([&] {
        while (!stop) {
            auto t = steady::now();
            auto r = http("POST", s->base_url() + "/jobs",
                          json{{"job_type", "test"}, {"payload", {{"sleep_ms", 20}}}}.dump(),
                          {"Content-Type: application/json"}, 30000);
            double took = ms_since(t);
            {
                std::lock_guard<std::mutex> lock(m);
                slowest_ms = std::max(slowest_ms, took);
                ++statuses[r.status];
                if (r.status == 201) {
                    accepted.push_back(r.json()["id"]);
                    accepted_at[accepted.back()] = steady::now();
                }
            }
            std::this_thread::sleep_for(milliseconds(50));
        }
    });
    struct Guard {
        std::atomic<bool>& stop;
        std::thread& t;
        ~Guard() {
            stop = true;
            if (t.joinable())
                t.join();
        }
    } guard{stop, submitter};

    std::vector<std::string> ids;
    for (int i = 0; i < 40; ++i)
        ids.push_back(submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 300}}}}));
    json outages = json::array();

    for (std::string mode : {"fast", "immediate"}) {
        INFO("mode " << mode);
        // Jobs are running when the database goes away.
        REQUIRE(wait_until(
            [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") > 0; },
            seconds(10)));
        REQUIRE(pg_ctl("stop -m " + mode) == 0);
        {
            std::lock_guard<std::mutex> lock(m);
            stopped_at[mode] = steady::now();
        }
        auto down_at = steady::now();

        auto t = steady::now();
        auto post = http_post_json(s->base_url() + "/jobs", json{{"job_type", "noop"}}.dump());
        double post_ms = ms_since(t);
        t = steady::now();
        auto health = http_get(s->base_url() + "/healthz");
        double health_ms = ms_since(t);
        t = steady::now();
        auto get = http_get(s->base_url() + "/jobs/" + ids.front());
        double get_ms = ms_since(t);
        INFO("POST " << post.status << " " << post.body << " in " << post_ms << " ms; healthz "
                     << health.status << " in " << health_ms << " ms; GET " << get.status << " in "
                     << get_ms << " ms\nlog:\n"
                     << tail(s->log()));
        CHECK(post.status == 503);
        CHECK(is_error_json(post));
        CHECK(post.json()["error"]["code"] == "database_unavailable");
        CHECK(post_ms < 5000);
        CHECK(health.status == 503);
        CHECK(health_ms < 5000);
        CHECK(get.status == 503);
        CHECK(get_ms < 5000);
        CHECK(s->running());

        REQUIRE(pg_ctl("restart") == 0); // starts the stopped cluster with its recorded options
        double outage_ms = ms_since(down_at);
        auto up_at = steady::now();
        bool healthy =
            wait_until([&] { return http_get(s->base_url() + "/healthz").status == 200; },
                       seconds(20), milliseconds(50));
        double healthy_after_ms = ms_since(up_at);
        CHECK(healthy);
        CHECK(s->log_contains("LISTEN connection lost"));

        // Everything in flight finishes; then an idle service must be woken by NOTIFY alone
        // (POLL_INTERVAL_MS is a minute): the LISTEN connection is back.
        bool settled = wait_until(
            [&] {
                return db.count("SELECT count(*) FROM jobs WHERE status IN ('pending', "
                                "'processing')") == 0;
            },
            seconds(30), milliseconds(100));
        INFO(db.text("SELECT string_agg(status || ':' || n, ', ') FROM (SELECT status, count(*) n "
                     "FROM jobs GROUP BY 1) x")
             << "\nlog:\n"
             << tail(s->log()));
        CHECK(settled);
        std::string probe;
        for (int i = 0; i < 20 && probe.empty(); ++i) { // the first write may meet a dead socket
            auto r = http_post_json(s->base_url() + "/jobs",
                                    json{{"job_type", "test"}, {"payload", json::object()}}.dump());
            if (r.status == 201)
                probe = r.json()["id"];
            else
                std::this_thread::sleep_for(milliseconds(100));
        }
        REQUIRE(!probe.empty());
        auto probe_at = steady::now();
        bool woken = wait_until([&] { return status_of(*s, probe) == "done"; }, seconds(5),
                                milliseconds(20));
        double probe_ms = ms_since(probe_at);
        CHECK(woken);
        outages.push_back(
            {{"mode", mode},
             {"outage_ms", outage_ms},
             {"post_during_outage", {{"status", post.status}, {"ms", post_ms}}},
             {"healthz_during_outage", {{"status", health.status}, {"ms", health_ms}}},
             {"healthz_200_after_start_ms", healthy_after_ms},
             {"notify_wakeup_ms", probe_ms}});
        ids.push_back(probe);
        for (int i = 0; i < 20; ++i)
            ids.push_back(submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 300}}}}));
    }
    stop = true;
    submitter.join();

    // Every job answered 201 finishes; none is lost.
    std::vector<std::string> all = ids;
    {
        std::lock_guard<std::mutex> lock(m);
        all.insert(all.end(), accepted.begin(), accepted.end());
    }
    // (Waits for the jobs that exist; a missing one is counted as lost below.)
    bool finished = wait_until(
        [&] {
            return db.count("SELECT count(*) FROM jobs WHERE status <> 'done' AND id = ANY(" +
                            uuid_array(all) + ")") == 0;
        },
        seconds(30), milliseconds(200));
    long long lost = missing(db, all);
    // Which 201s were lost, and how long before the stop they were answered.
    json lost_jobs = json::array();
    if (lost > 0) {
        std::set<std::string> present;
        for (const auto& row : db.exec("SELECT id::text FROM jobs"))
            present.insert(row[0].c_str());
        std::lock_guard<std::mutex> lock(m);
        for (const auto& id : all)
            if (!present.count(id)) {
                json j = {{"id", id}};
                if (accepted_at.count(id))
                    for (const auto& [mode, at] : stopped_at)
                        j["ms_before_" + mode + "_stop"] =
                            std::chrono::duration<double, std::milli>(at - accepted_at[id]).count();
                lost_jobs.push_back(j);
            }
        WARN("jobs answered 201 but missing after the restarts: " << lost_jobs.dump());
    }
    long long undone = not_done(db, all);
    INFO("log:\n" << tail(s->log()));
    CHECK(finished);
    CHECK(lost == 0);
    CHECK(undone == 0);
    CHECK(slowest_ms < 5000);
    for (const auto& [status, n] : statuses) {
        INFO("status " << status << " x" << n);
        CHECK((status == 201 || status == 503));
    }

    // The SSE stream stayed up or was closed cleanly; a reconnect with Last-Event-ID resumes.
    // The original stream kept delivering live events across both restarts: the last probe's
    // `done` arrived on it.
    const std::string last_probe = ids[ids.size() - 21];
    bool live_after_restarts = wait_until(
        [&] {
            for (const auto& e : sse.events())
                if (e.event == "job" && json::parse(e.data, nullptr, false)["id"] == last_probe &&
                    json::parse(e.data, nullptr, false)["status"] == "done")
                    return true;
            return false;
        },
        seconds(10));
    CHECK((live_after_restarts || sse.finished()));
    if (sse.finished())
        CHECK(sse.status() == 200); // closed cleanly
    auto seen = sse.events();
    REQUIRE(!seen.empty());
    std::string last_id = seen.back().id;
    SseClient resumed(s->base_url() + "/events", {"Last-Event-ID: " + last_id});
    auto after = submit(*s, {{"job_type", "noop"}});
    bool resumed_ok = wait_until(
        [&] {
            for (const auto& e : resumed.events())
                if (e.event == "job" && json::parse(e.data, nullptr, false)["id"] == after &&
                    json::parse(e.data, nullptr, false)["status"] == "done")
                    return true;
            return false;
        },
        seconds(10));
    CHECK(resumed_ok);
    bool increasing = true;
    for (const auto& e : resumed.events())
        if (e.event == "job" && std::stoull(e.id) <= std::stoull(last_id))
            increasing = false;
    CHECK(increasing);
    CHECK(s->running());

    long long accepted_n;
    {
        std::lock_guard<std::mutex> lock(m);
        accepted_n = static_cast<long long>(accepted.size());
    }
    WARN("PostgreSQL restarts: 2 (fast, immediate); "
         << all.size() << " jobs answered 201, " << lost << " lost; slowest POST " << slowest_ms
         << " ms; SSE " << (sse.finished() ? "closed cleanly" : "stayed connected"));
    report("pg_restart", {{"restarts", outages},
                          {"jobs_answered_201", static_cast<long long>(all.size())},
                          {"background_posts_201", accepted_n},
                          {"jobs_lost", lost},
                          {"lost_jobs", lost_jobs},
                          {"jobs_not_done", undone},
                          {"slowest_post_ms", slowest_ms},
                          {"sse_stream", sse.finished() ? "closed cleanly" : "stayed connected"},
                          {"sse_events_before_resume", static_cast<long long>(seen.size())}});
}

// ---- 3. Connections killed -------------------------------------------------------------------

TEST_CASE("chaos: every backend killed with pg_terminate_backend, twice; recovered in place",
          "[chaos]") {
    TestDatabase db;
    auto s = start(testd_binary(), db,
                   {{"POLL_INTERVAL_MS", "60000"},
                    {"WORKER_CONCURRENCY", "4"},
                    {"HEARTBEAT_INTERVAL_S", "1"},
                    {"STALE_AFTER_S", "5"},
                    {"REAPER_INTERVAL_S", "1"},
                    {"BACKOFF_BASE_MS", "100"},
                    {"BACKOFF_MAX_S", "1"}});
    const int pid = s->pid();
    std::vector<std::string> ids;
    json rounds = json::array();
    long long terminated_total = 0;
    for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        for (int i = 0; i < 20; ++i)
            ids.push_back(submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 200}}}}));
        REQUIRE(http_get(s->base_url() + "/jobs/" + ids.back()).status == 200);
        REQUIRE(wait_until(
            [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") > 0; },
            seconds(10)));
        std::string backends =
            db.text("SELECT string_agg(coalesce(nullif(application_name, ''), '?'), ',' ORDER BY "
                    "application_name) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()");
        long long terminated = terminate_backends(db);
        terminated_total += terminated;
        // writer, claimer, reaper, listener and at least one reader.
        CHECK(terminated >= 5);
        auto killed_at = steady::now();

        // Reads come back (the first may answer 503 on the dead socket, never hang).
        std::vector<long> get_statuses;
        bool reads = wait_until(
            [&] {
                auto r = http_get(s->base_url() + "/jobs/" + ids.front());
                get_statuses.push_back(r.status);
                return r.status == 200;
            },
            seconds(10), milliseconds(50));
        double reads_ms = ms_since(killed_at);
        CHECK(reads);
        CHECK(wait_until([&] { return http_get(s->base_url() + "/healthz").status == 200; },
                         seconds(10), milliseconds(50)));
        for (long st : get_statuses)
            CHECK((st == 200 || st == 503));

        // Jobs keep running: everything submitted so far finishes.
        bool settled = wait_until(
            [&] {
                return db.count("SELECT count(*) FROM jobs WHERE status IN ('pending', "
                                "'processing')") == 0;
            },
            seconds(30), milliseconds(100));
        INFO("log:\n" << tail(s->log()));
        CHECK(settled);

        // NOTIFY wakes the idle service again (the poll is a minute away).
        std::string probe;
        int refused_posts = 0;
        for (int i = 0; i < 20 && probe.empty(); ++i) {
            auto r = http_post_json(s->base_url() + "/jobs",
                                    json{{"job_type", "test"}, {"payload", json::object()}}.dump());
            if (r.status == 201) {
                probe = r.json()["id"];
            } else {
                CHECK(r.status == 503);
                CHECK(is_error_json(r));
                ++refused_posts;
                std::this_thread::sleep_for(milliseconds(100));
            }
        }
        REQUIRE(!probe.empty());
        ids.push_back(probe);
        auto probe_at = steady::now();
        bool woken = wait_until([&] { return status_of(*s, probe) == "done"; }, seconds(5),
                                milliseconds(20));
        double probe_ms = ms_since(probe_at);
        CHECK(woken);
        CHECK(s->running());
        CHECK(s->pid() == pid);
        rounds.push_back({{"backends_terminated", terminated},
                          {"backends", backends},
                          {"reads_200_after_ms", reads_ms},
                          {"posts_refused_before_201", refused_posts},
                          {"notify_wakeup_ms", probe_ms}});
    }
    long long undone = not_done(db, ids);
    CHECK(undone == 0);
    CHECK(missing(db, ids) == 0);
    WARN("pg_terminate_backend: " << terminated_total << " backends killed in 2 rounds; "
                                  << ids.size() << " jobs, " << undone << " not done");
    report("terminate_backends", {{"rounds", rounds},
                                  {"backends_terminated", terminated_total},
                                  {"jobs_submitted", static_cast<long long>(ids.size())},
                                  {"jobs_lost", missing(db, ids)},
                                  {"jobs_not_done", undone}});
}

// ---- 4. Retry storm --------------------------------------------------------------------------

TEST_CASE("chaos: 5,000 webhooks against a server answering 503, then recovering", "[chaos]") {
    constexpr int kJobs = 5000, kBackoffBaseMs = 200;
    TestDatabase db;
    std::atomic<bool> healthy{false};
    WebhookLog hooks;
    std::atomic<long> failures{0};
    handlertest::FakeHttpServer target([&](const handlertest::Request& req, int) {
        hooks.add(req.body);
        if (healthy)
            return handlertest::Response(200, "ok");
        ++failures;
        return handlertest::Response(503, "overloaded");
    });
    auto s = start(conveyor_binary(), db,
                   {{"BACKOFF_BASE_MS", std::to_string(kBackoffBaseMs)},
                    {"BACKOFF_MAX_S", "2"},
                    {"WORKER_CONCURRENCY", "20"}});
    auto storm_start = steady::now(); // the first attempts start as the batches commit
    std::vector<std::string> ids;
    for (int b = 0; b < kJobs / 1000; ++b) {
        json jobs = json::array();
        for (int i = 0; i < 1000; ++i)
            jobs.push_back(
                {{"job_type", "webhook"},
                 {"payload", {{"url", target.url("/hook")}, {"body", {{"tag", b * 1000 + i}}}}},
                 {"max_attempts", 25}});
        auto got = submit_batch(*s, jobs);
        ids.insert(ids.end(), got.begin(), got.end());
    }
    // The storm is on once many jobs have failed at least once.
    REQUIRE(wait_until([&] { return failures > kJobs / 2; }, seconds(60), milliseconds(50)));

    // Responsiveness during the storm: sequential GETs of random jobs.
    std::mt19937 rng(42);
    std::vector<double> latencies;
    long non_200 = 0;
    for (int i = 0; i < 200; ++i) {
        auto t = steady::now();
        auto r = http_get(s->base_url() + "/jobs/" + ids[rng() % ids.size()]);
        latencies.push_back(ms_since(t));
        if (r.status != 200)
            ++non_200;
        std::this_thread::sleep_for(milliseconds(25)); // spread over ~5 s of the storm
    }
    double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99),
           max = percentile(latencies, 1.0);
    long failures_during_storm = failures;
    double storm_s = ms_since(storm_start) / 1000;
    long long retried = db.count("SELECT count(*) FROM jobs WHERE attempts >= 1 AND last_error "
                                 "LIKE '%503%'");

    healthy = true;
    auto recovered_at = steady::now();
    bool all_done = wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == kJobs; },
        seconds(90), milliseconds(200));
    double drain_s = ms_since(recovered_at) / 1000;
    INFO(db.text("SELECT string_agg(status || ':' || n, ', ') FROM (SELECT status, count(*) n FROM "
                 "jobs GROUP BY 1) x")
         << "\nlog:\n"
         << tail(s->log()));
    CHECK(all_done);

    // Backoff spreads the retries: consecutive requests for one job are at least the backoff
    // apart (base·5^(n-1), capped at 2 s), minus a little clock slack.
    long long too_early = 0, requests = 0, peak_per_s = 0;
    {
        std::lock_guard<std::mutex> lock(hooks.m);
        requests = hooks.total;
        std::map<long long, long long> per_second;
        for (const auto& [tag, times] : hooks.by_tag)
            for (auto t : times)
                ++per_second[std::chrono::duration_cast<seconds>(t - storm_start).count()];
        for (const auto& [sec, n] : per_second)
            peak_per_s = std::max(peak_per_s, n);
        for (const auto& [tag, times] : hooks.by_tag)
            for (size_t i = 1; i < times.size(); ++i) {
                double want = std::min(kBackoffBaseMs * std::pow(5.0, double(i - 1)), 2000.0);
                double gap =
                    std::chrono::duration<double, std::milli>(times[i] - times[i - 1]).count();
                if (gap < want - 20)
                    ++too_early;
            }
    }
    long long failed = db.count("SELECT count(*) FROM jobs WHERE status = 'failed'");
    WARN("retry storm: " << kJobs << " webhooks, " << failures_during_storm
                         << " 503s before GETs ended; GET /jobs/<id> p50 " << p50 << " ms, p99 "
                         << p99 << " ms, max " << max << " ms (" << non_200
                         << " non-200); all done " << drain_s << " s after recovery; " << requests
                         << " requests in all");
    report("retry_storm", {{"jobs_submitted", kJobs},
                           {"backoff_base_ms", kBackoffBaseMs},
                           {"webhook_503s_before_recovery", static_cast<long long>(failures)},
                           {"jobs_retried_during_storm", retried},
                           {"storm_seconds_until_recovery", storm_s},
                           {"get_p50_ms", p50},
                           {"get_p99_ms", p99},
                           {"get_max_ms", max},
                           {"get_non_200", non_200},
                           {"requests_total", requests},
                           {"peak_requests_per_second", peak_per_s},
                           {"retries_earlier_than_backoff", too_early},
                           {"jobs_done", db.count("SELECT count(*) FROM jobs WHERE status = "
                                                  "'done'")},
                           {"jobs_failed", failed},
                           {"jobs_lost", missing(db, ids)},
                           {"seconds_to_drain_after_recovery", drain_s}});
    CHECK(non_200 == 0);
    CHECK(p99 < 250);
    CHECK(too_early == 0);
    CHECK(failed == 0);
    CHECK(missing(db, ids) == 0);
    CHECK(s->running());
}

// ---- 5. Statement errors, disk full, read-only database --------------------------------------

TEST_CASE("chaos: failing inserts and a read-only database give JSON errors, never a crash",
          "[chaos]") {
    TestDatabase db;
    auto s = start(conveyor_binary(), db, {{"BACKOFF_BASE_MS", "100"}});
    auto before = submit(*s, {{"job_type", "noop"}});
    REQUIRE(wait_until([&] { return status_of(*s, before) == "done"; }, seconds(10)));
    json faults = json::array();

    // (a) Every insert fails as it would on a full disk.
    db.exec("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'could not extend file \"base/1/2\": No space left on device' USING ERRCODE = "
            "'53100'; END $$; CREATE TRIGGER boom BEFORE INSERT ON jobs FOR EACH ROW EXECUTE "
            "FUNCTION boom()");
    {
        auto t = steady::now();
        auto r = http_post_json(s->base_url() + "/jobs", json{{"job_type", "noop"}}.dump());
        double ms = ms_since(t);
        auto batch =
            http_post_json(s->base_url() + "/jobs/batch",
                           json{{"jobs", {{{"job_type", "noop"}}, {{"job_type", "noop"}}}}}.dump());
        INFO(r.status << " " << r.body << "; batch " << batch.status << " " << batch.body
                      << "\nlog:\n"
                      << tail(s->log()));
        CHECK((r.status == 500 || r.status == 503));
        CHECK(is_error_json(r));
        CHECK(ms < 5000);
        CHECK((batch.status == 500 || batch.status == 503));
        CHECK(is_error_json(batch));
        CHECK(wait_until([&] { return s->log_contains("No space left on device"); }, seconds(5)));
        CHECK(s->running());
        // Reads and health are unaffected.
        CHECK(http_get(s->base_url() + "/jobs/" + before).status == 200);
        CHECK(http_get(s->base_url() + "/healthz").status == 200);
        faults.push_back({{"fault", "BEFORE INSERT trigger raising ENOSPC (53100)"},
                          {"post_status", r.status},
                          {"post_body", r.json()},
                          {"post_ms", ms},
                          {"batch_status", batch.status}});
    }
    db.exec("DROP TRIGGER boom ON jobs; DROP FUNCTION boom()");
    {
        auto id = submit(*s, {{"job_type", "noop"}});
        CHECK(wait_until([&] { return status_of(*s, id) == "done"; }, seconds(10)));
    }

    // (b) The database turns read-only; existing sessions are dropped so they pick it up.
    {
        pqxx::connection admin(env_or_fail("CONVEYOR_TEST_PG_URL"));
        pqxx::nontransaction(admin).exec0("ALTER DATABASE " + db.name() +
                                          " SET default_transaction_read_only = on");
    }
    long long terminated = terminate_backends(db);
    std::vector<long> statuses;
    HttpResponse last;
    // The first write may meet a dead socket (503); then the read-only refusal.
    bool refused = wait_until(
        [&] {
            last = http_post_json(s->base_url() + "/jobs", json{{"job_type", "noop"}}.dump());
            statuses.push_back(last.status);
            return last.status == 500;
        },
        seconds(10), milliseconds(100));
    {
        INFO(last.status << " " << last.body << "\nlog:\n" << tail(s->log()));
        CHECK(refused);
        CHECK(is_error_json(last));
        for (long st : statuses)
            CHECK((st == 500 || st == 503));
        CHECK(wait_until([&] { return s->log_contains("read-only transaction"); }, seconds(5)));
        CHECK(s->running());
        CHECK(wait_until([&] { return http_get(s->base_url() + "/jobs/" + before).status == 200; },
                         seconds(10), milliseconds(50)));
    }
    faults.push_back({{"fault", "default_transaction_read_only = on, backends terminated"},
                      {"backends_terminated", terminated},
                      {"post_statuses", statuses},
                      {"post_body", last.json()}});
    {
        pqxx::connection admin(env_or_fail("CONVEYOR_TEST_PG_URL"));
        pqxx::nontransaction(admin).exec0("ALTER DATABASE " + db.name() +
                                          " RESET default_transaction_read_only");
    }
    terminate_backends(db);
    std::string after;
    bool accepted = wait_until(
        [&] {
            auto r = http_post_json(s->base_url() + "/jobs", json{{"job_type", "noop"}}.dump());
            if (r.status == 201)
                after = r.json()["id"];
            return r.status == 201;
        },
        seconds(10), milliseconds(100));
    INFO("log:\n" << tail(s->log()));
    CHECK(accepted);
    if (accepted)
        CHECK(wait_until([&] { return status_of(*s, after) == "done"; }, seconds(10)));
    CHECK(s->running());
    WARN("statement errors: 2 faults (ENOSPC trigger, read-only database); answers "
         << faults[0]["post_status"] << " and " << last.status << "; process alive");
    report("statement_errors", {{"faults", faults}, {"recovered", accepted}, {"crashed", false}});
}
