#pragma once
// Driving the real `conveyor` binary for the job type tests: start it, submit jobs over HTTP,
// store jobs behind its back, wait for outcomes. Built on the shared helpers of support/jobs.hpp.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/jobs.hpp"
#include "support/server_process.hpp"

namespace handlertest {

using nlohmann::json;

inline std::unique_ptr<testsupport::ServerProcess>
start_service(const testsupport::TestDatabase& db, std::map<std::string, std::string> env = {}) {
    env.emplace("BACKOFF_BASE_MS", "100");
    // Debug logs include every attempt's outcome: the secret-leak checks need them.
    env.emplace("LOG_LEVEL", "debug");
    return testsupport::start_service(testsupport::conveyor_binary(), db, std::move(env));
}

inline std::string submit(const testsupport::ServerProcess& s, const std::string& type,
                          const json& payload, int max_attempts = 3) {
    return testsupport::submit(
        s, {{"job_type", type}, {"payload", payload}, {"max_attempts", max_attempts}});
}

// POST /jobs must refuse the payload with 422 invalid_payload; returns the message.
inline std::string rejected(const testsupport::ServerProcess& s, const std::string& type,
                            const json& payload) {
    json job = {{"job_type", type}, {"payload", payload}};
    auto r = testsupport::http_post_json(s.base_url() + "/jobs", job.dump());
    INFO(r.body);
    CHECK(r.status == 422);
    auto j = r.json();
    CHECK(j["error"]["code"] == "invalid_payload");
    return j["error"]["message"].is_string() ? j["error"]["message"].get<std::string>() : "";
}

// Inserts a job with SQL, skipping the API's validation, and wakes the workers.
inline std::string insert_directly(const testsupport::TestDatabase& db, const std::string& type,
                                   const json& payload, int max_attempts = 3) {
    auto id = db.text("INSERT INTO jobs (job_type, payload, max_attempts) VALUES ('" + type +
                      "', $json$" + payload.dump() + "$json$::jsonb, " +
                      std::to_string(max_attempts) + ") RETURNING id");
    db.exec("NOTIFY conveyor_wake");
    return id;
}

// Waits (generously) for the job to reach `status` and returns it.
inline json wait_for(const testsupport::ServerProcess& s, const std::string& id,
                     const std::string& status, int seconds = 20) {
    return testsupport::wait_for_status(s, id, status, seconds);
}

inline std::string last_error(const json& job) {
    return job["last_error"].is_string() ? job["last_error"].get<std::string>() : "";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace handlertest
