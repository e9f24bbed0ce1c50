#pragma once
// What the scale-out, pooler and failover tests share: a drain over many processes whose every
// attempt is recorded (test_executions), checked for exactly-once execution and held caps, and
// the figures written to scale-report.json (CONVEYOR_SCALE_REPORT, or the working directory).
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "support/database.hpp"
#include "support/jobs.hpp"
#include "support/server_process.hpp"

namespace testsupport {

// Merges `value` into the report under `key`.
inline void scale_report(const std::string& key, nlohmann::json value) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    const char* p = std::getenv("CONVEYOR_SCALE_REPORT");
    std::string path = p && *p ? p : "scale-report.json";
    nlohmann::json doc = nlohmann::json::object();
    {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        doc = nlohmann::json::parse(ss.str(), nullptr, false);
        if (!doc.is_object())
            doc = nlohmann::json::object();
    }
    doc[key] = std::move(value);
    std::ofstream(path, std::ios::trunc) << doc.dump(2) << "\n";
}

// Log lines of level error (text format: "<timestamp> error <component>: ...").
inline std::vector<std::string> error_lines(const std::string& log) {
    std::vector<std::string> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line))
        if (line.find(" error ") != std::string::npos && line.find(" error ") < 40)
            out.push_back(line);
    return out;
}

struct DrainFigures {
    long long jobs = 0, executions = 0, distinct_jobs = 0, pids = 0;
    long long limited_peak = 0, per_process_peak = 0;
    double seconds = 0;
};

// `n` jobs spread over the processes (and n/10 more in queue "limited", limit 3 across all of
// them), each recording its attempt; waits until all are done and measures what ran.
inline DrainFigures drain_recorded(Procs& procs, const TestDatabase& db, int n) {
    using nlohmann::json;
    auto limit =
        http("PATCH", procs[0]->base_url() + "/queues/limited", R"({"concurrency_limit":3})");
    REQUIRE(limit.status == 200);
    auto started = std::chrono::steady_clock::now();
    const json quick = {{"job_type", "test"}, {"payload", {{"record", true}, {"sleep_ms", 2}}}};
    const json slow = {{"job_type", "test"},
                       {"queue", "limited"},
                       {"payload", {{"record", true}, {"sleep_ms", 20}}}};
    int per = n / static_cast<int>(procs.size());
    for (size_t i = 0; i < procs.size(); ++i) {
        submit_copies(*procs[i], quick, per);
        submit_copies(*procs[i], slow, per / 10);
    }
    DrainFigures f;
    f.jobs = static_cast<long long>(procs.size()) * (per + per / 10);
    bool done = wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == f.jobs; },
        std::chrono::seconds(120), std::chrono::milliseconds(100));
    f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO(status_counts(db) << "\nlog:\n" << log_tail(procs[0]->log()));
    REQUIRE(done);
    f.executions = db.count("SELECT count(*) FROM test_executions");
    f.distinct_jobs = db.count("SELECT count(DISTINCT job_id) FROM test_executions");
    f.pids = db.count("SELECT count(DISTINCT pid) FROM test_executions");
    f.limited_peak = db.count(
        "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM test_executions o JOIN jobs "
        "oj ON oj.id = o.job_id WHERE oj.queue = 'limited' AND o.started_at <= e.started_at AND "
        "o.finished_at > e.started_at) AS n FROM test_executions e JOIN jobs j ON j.id = e.job_id "
        "WHERE j.queue = 'limited') x");
    f.per_process_peak = db.count(
        "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM test_executions o WHERE "
        "o.pid = e.pid AND o.started_at <= e.started_at AND o.finished_at > e.started_at) AS n "
        "FROM test_executions e) x");
    return f;
}

inline nlohmann::json to_json(const DrainFigures& f) {
    return {{"jobs", f.jobs},
            {"executions", f.executions},
            {"distinct_jobs_executed", f.distinct_jobs},
            {"processes_that_ran_jobs", f.pids},
            {"limited_queue_peak", f.limited_peak},
            {"per_process_peak", f.per_process_peak},
            {"seconds", f.seconds}};
}

// Exactly once, every process took part, and no cap was passed.
inline void check_exactly_once(const DrainFigures& f, size_t processes, int worker_concurrency) {
    CHECK(f.executions == f.jobs);
    CHECK(f.distinct_jobs == f.jobs);
    CHECK(f.pids == static_cast<long long>(processes));
    CHECK(f.limited_peak <= 3);
    CHECK(f.limited_peak >= 2); // the limit was reached for, not avoided by chance
    CHECK(f.per_process_peak <= worker_concurrency);
}

} // namespace testsupport
