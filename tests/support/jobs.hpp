#pragma once
// Driving a running service over HTTP: submit jobs, read them back, wait for a status. Shared by
// every suite that talks to a real process (engine, SSE, chaos, job types).
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace testsupport {

using nlohmann::json;

// Starts `binary` on `db` with `env` (DATABASE_URL added) and waits until it listens.
inline std::unique_ptr<ServerProcess> start_service(const std::string& binary,
                                                    const TestDatabase& db,
                                                    std::map<std::string, std::string> env = {}) {
    env.emplace("DATABASE_URL", db.url());
    auto p = std::make_unique<ServerProcess>(binary, env);
    REQUIRE(p->wait_ready());
    return p;
}

// The test daemon (the service plus the `test` job type of tests/support/testd_main.cpp).
inline std::unique_ptr<ServerProcess> start_testd(const TestDatabase& db,
                                                  std::map<std::string, std::string> env = {}) {
    return start_service(testd_binary(), db, std::move(env));
}

// The last `n` bytes of a process log, for failure messages.
inline std::string log_tail(const std::string& log, size_t n = 4000) {
    return log.size() <= n ? log : log.substr(log.size() - n);
}

// POST /jobs; REQUIREs 201 and returns the id.
inline std::string submit(const ServerProcess& s, const json& job) {
    auto r = http_post_json(s.base_url() + "/jobs", job.dump());
    INFO(r.body << "\nlog:\n" << log_tail(s.log()));
    REQUIRE(r.status == 201);
    return r.json()["id"];
}

// POST /jobs/batch; REQUIREs 201 and returns the ids in order.
inline std::vector<std::string> submit_batch(const ServerProcess& s, const json& jobs) {
    auto r = http("POST", s.base_url() + "/jobs/batch", json{{"jobs", jobs}}.dump(),
                  {"Content-Type: application/json"}, 60000);
    INFO(r.body.substr(0, 500) << "\nlog:\n" << log_tail(s.log()));
    REQUIRE(r.status == 201);
    std::vector<std::string> ids;
    for (const auto& j : r.json())
        ids.push_back(j["id"]);
    REQUIRE(ids.size() == jobs.size());
    return ids;
}

// `n` copies of `job`, in batches of at most 1,000; returns the ids in order.
inline std::vector<std::string> submit_copies(const ServerProcess& s, const json& job, int n) {
    std::vector<std::string> ids;
    for (int done = 0; done < n;) {
        int size = std::min(1000, n - done);
        auto got = submit_batch(s, json(std::vector<json>(static_cast<size_t>(size), job)));
        ids.insert(ids.end(), got.begin(), got.end());
        done += size;
    }
    return ids;
}

inline json get_job(const ServerProcess& s, const std::string& id) {
    return http_get(s.base_url() + "/jobs/" + id).json();
}

// The job's status, or "" when it cannot be read.
inline std::string status_of(const ServerProcess& s, const std::string& id) {
    auto j = get_job(s, id);
    return j.is_object() && j.contains("status") && j["status"].is_string()
               ? j["status"].get<std::string>()
               : "";
}

inline bool status_is(const ServerProcess& s, const std::string& id, const std::string& status) {
    return status_of(s, id) == status;
}

// Waits (generously) for the job to reach `status` and returns it; REQUIREs that it did.
inline json wait_for_status(const ServerProcess& s, const std::string& id,
                            const std::string& status, int seconds = 20) {
    json last;
    bool reached = wait_until(
        [&] {
            last = get_job(s, id);
            return last.is_object() && last["status"] == status;
        },
        std::chrono::seconds(seconds), std::chrono::milliseconds(50));
    INFO("job " << id << " is " << last.dump() << "; log:\n" << log_tail(s.log()));
    REQUIRE(reached);
    return last;
}

// "status:count, ..." of the jobs table, for failure messages.
inline std::string status_counts(const TestDatabase& db) {
    return db.text("SELECT string_agg(status || ':' || n, ', ') FROM (SELECT status, count(*) n "
                   "FROM jobs GROUP BY 1) x");
}

// test_executions: one row per attempt of a `test` job with "record": true.
inline void create_executions_table(const TestDatabase& db) {
    db.exec("CREATE TABLE test_executions (job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT "
            "NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)");
}

// Pairs of recorded executions of one job whose [started_at, finished_at] intervals intersect.
inline long long overlapping_executions(const TestDatabase& db) {
    return db.count("SELECT count(*) FROM test_executions a JOIN test_executions b ON a.job_id = "
                    "b.job_id AND a.ctid < b.ctid AND a.started_at < b.finished_at AND "
                    "b.started_at < a.finished_at");
}

// Processes started by a test, for the tests that run several on one database.
using Procs = std::vector<std::unique_ptr<ServerProcess>>;

// Indexes of the running processes whose /healthz says "leader": true.
inline std::vector<size_t> leaders(Procs& procs) {
    std::vector<size_t> out;
    for (size_t i = 0; i < procs.size(); ++i)
        if (procs[i]->running()) {
            auto health = http_get(procs[i]->base_url() + "/healthz").json();
            if (health.is_object() && health.value("leader", false))
                out.push_back(i);
        }
    return out;
}

} // namespace testsupport
