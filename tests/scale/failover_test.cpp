// Issue 16 item 2: a primary and a hot standby with synchronous streaming replication, two
// Conveyor processes whose DATABASE_URL names both (target_session_attrs=read-write), submit and
// drain load; the primary and all its backends are SIGKILLed, the standby promoted. Conveyor
// follows without a restart, and every job answered 201 is in the new primary and runs.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "scale/scale_support.hpp"
#include "support/env.hpp"
#include "support/pg_cluster.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

double since(steady::time_point from, steady::time_point t) {
    return std::chrono::duration<double>(t - from).count();
}

long long count(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<long long>();
}

// One client POSTing jobs to one process as fast as it is answered, until stopped.
struct Submitter {
    struct Answer {
        steady::time_point at;
        long status;
        std::string retry_after;
    };
    std::vector<Answer> answers;
    std::vector<std::string> ids; // answered 201
    std::thread thread;
    mutable std::mutex mutex; // answers and ids, read while the thread runs

    long last_status() const {
        std::lock_guard<std::mutex> lock(mutex);
        return answers.empty() ? 0 : answers.back().status;
    }

    void start(const std::string& base_url, const std::atomic<bool>& stop) {
        thread = std::thread([this, base_url, &stop] {
            const std::string body = json{{"job_type", "test"},
                                          {"max_attempts", 20},
                                          {"payload", {{"record", true}, {"sleep_ms", 5}}}}
                                         .dump();
            while (!stop) {
                auto r = http("POST", base_url + "/jobs", body, {"Content-Type: application/json"},
                              10000);
                bool created = r.status == 201;
                {
                    std::lock_guard<std::mutex> lock(mutex);
                    answers.push_back({steady::now(), r.status, r.header("retry-after")});
                    if (created)
                        ids.push_back(r.json()["id"]);
                }
                if (!created)
                    std::this_thread::sleep_for(milliseconds(20));
            }
        });
    }
};

} // namespace

TEST_CASE("failover: the primary SIGKILLed under load, its synchronous standby promoted, every "
          "answered job kept and run",
          "[scale][failover]") {
    PgCluster primary("primary"), standby("standby");
    primary.init();
    // fsync is off because only processes die here, and the page cache outlives them.
    // synchronous_standby_names is set once the standby runs: set before, every commit (the
    // CREATE DATABASE below) would wait for a standby that does not exist yet.
    primary.start({"fsync=off"});
    {
        pqxx::connection c(primary.url("postgres"));
        pqxx::nontransaction(c).exec0("CREATE DATABASE conveyor");
    }
    {
        pqxx::connection c(primary.url("conveyor"));
        pqxx::nontransaction(c).exec0(
            "CREATE TABLE test_executions (job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT "
            "NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)");
    }
    standby.base_backup_of(primary);
    // Promoted, it runs alone: no synchronous standby for it to wait for.
    standby.start({"fsync=off"});
    {
        // From here on, commits wait for the standby's flush.
        pqxx::connection c(primary.url("postgres"));
        pqxx::nontransaction tx(c);
        tx.exec0("ALTER SYSTEM SET synchronous_standby_names = '*'");
        tx.exec("SELECT pg_reload_conf()");
    }
    REQUIRE(wait_until(
        [&] {
            return count(primary.url("postgres"),
                         "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == 1;
        },
        seconds(30)));

    const std::string url = "postgresql://postgres@/conveyor?host=" + primary.dir() + "," +
                            standby.dir() + "&port=" + std::to_string(primary.port()) + "," +
                            std::to_string(standby.port()) +
                            "&target_session_attrs=read-write&connect_timeout=2";
    const std::map<std::string, std::string> env = {
        {"DATABASE_URL", url},         {"WORKER_CONCURRENCY", "8"}, {"POLL_INTERVAL_MS", "500"},
        {"HEARTBEAT_INTERVAL_S", "1"}, {"STALE_AFTER_S", "3"},      {"REAPER_INTERVAL_S", "1"},
        {"MAINTAINER_LEASE_S", "3"},   {"BACKOFF_BASE_MS", "100"},  {"BACKOFF_MAX_S", "1"}};
    Procs procs;
    for (int i = 0; i < 2; ++i) {
        procs.push_back(std::make_unique<ServerProcess>(testd_binary(), env));
        REQUIRE(procs.back()->wait_ready());
    }
    const int pids[] = {procs[0]->pid(), procs[1]->pid()};

    std::atomic<bool> stop{false};
    Submitter submitters[2];
    for (int i = 0; i < 2; ++i)
        submitters[i].start(procs[i]->base_url(), stop);
    std::this_thread::sleep_for(seconds(3));
    const auto killed_at = steady::now();
    primary.kill_all();
    // What a failover manager takes to notice; then the promotion.
    std::this_thread::sleep_for(seconds(1));
    standby.promote();
    const auto promoted_at = steady::now();
    // Load goes on until both processes have answered 201 for 3 s after the promotion.
    bool both_back = wait_until(
        [&] {
            for (auto& s : submitters)
                if (s.last_status() != 201)
                    return false;
            return true;
        },
        seconds(30), milliseconds(50));
    std::this_thread::sleep_for(seconds(3));
    stop = true;
    for (auto& s : submitters)
        s.thread.join();
    CHECK(both_back);

    // Every answered job is in the new primary, and runs to done (the reaper returns what the
    // dead primary's claims left processing, after STALE_AFTER_S).
    const std::string now_primary = standby.url("conveyor");
    std::set<std::string> answered;
    long long refused = 0, refused_without_retry_after = 0, other_errors = 0;
    double first_refused = -1, last_refused = -1;
    for (auto& s : submitters) {
        answered.insert(s.ids.begin(), s.ids.end());
        for (const auto& a : s.answers) {
            if (a.status == 201)
                continue;
            if (a.status == 503) {
                ++refused;
                refused_without_retry_after += a.retry_after.empty() ? 1 : 0;
            } else {
                ++other_errors;
            }
            double t = since(killed_at, a.at);
            if (first_refused < 0 || t < first_refused)
                first_refused = t;
            last_refused = std::max(last_refused, t);
        }
    }
    std::string ids_array = "{";
    for (const auto& id : answered)
        ids_array += (ids_array.size() > 1 ? "," : "") + id;
    ids_array += "}";
    const std::string in_answered = "id = ANY ('" + ids_array + "'::uuid[])";
    long long stored = count(now_primary, "SELECT count(*) FROM jobs WHERE " + in_answered);
    // Everything stored runs to done, also what was stored but answered 503 (a COMMIT whose
    // outcome was unknown while no primary was there to find it on).
    bool all_done = wait_until(
        [&] { return count(now_primary, "SELECT count(*) FROM jobs WHERE status <> 'done'") == 0; },
        seconds(60), milliseconds(200));
    long long left_processing =
        count(now_primary, "SELECT count(*) FROM jobs WHERE status = 'processing'");
    long long rows = count(now_primary, "SELECT count(*) FROM jobs");
    long long executions = count(now_primary, "SELECT count(*) FROM test_executions");
    long long executed_jobs =
        count(now_primary, "SELECT count(DISTINCT job_id) FROM test_executions");

    INFO("process logs:\n" << log_tail(procs[0]->log()) << "\n---\n" << log_tail(procs[1]->log()));
    CHECK(stored == static_cast<long long>(answered.size()));
    CHECK(all_done);
    CHECK(left_processing == 0);
    CHECK(other_errors == 0);
    CHECK(refused_without_retry_after == 0);
    // Conveyor followed the promotion without a restart.
    for (int i = 0; i < 2; ++i) {
        CHECK(procs[i]->running());
        CHECK(procs[i]->pid() == pids[i]);
    }
    json figures = {{"answered_201", answered.size()},
                    {"answered_201_in_new_primary", stored},
                    {"lost", static_cast<long long>(answered.size()) - stored},
                    {"rows_in_new_primary", rows},
                    {"stored_but_not_answered_201", rows - stored},
                    {"answered_503", refused},
                    {"other_errors", other_errors},
                    {"first_503_after_kill_s", first_refused},
                    {"last_503_after_kill_s", last_refused},
                    {"promotion_after_kill_s", since(killed_at, promoted_at)},
                    {"seconds_of_503_after_promotion",
                     last_refused < 0 ? 0.0 : last_refused - since(killed_at, promoted_at)},
                    {"left_processing", left_processing},
                    {"executions", executions},
                    {"duplicate_executions", executions - executed_jobs}};
    WARN("failover: " << figures.dump());
    scale_report("failover", figures);
}
