#pragma once
// Driving the real `conveyor` binary for the job type tests: start it, submit jobs over HTTP,
// store jobs behind its back, wait for outcomes.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace handlertest {

using nlohmann::json;

inline std::unique_ptr<testsupport::ServerProcess>
start_service(const testsupport::TestDatabase& db, std::map<std::string, std::string> env = {}) {
    env.emplace("DATABASE_URL", db.url());
    env.emplace("BACKOFF_BASE_MS", "100");
    // Debug logs include every attempt's outcome: the secret-leak checks need them.
    env.emplace("LOG_LEVEL", "debug");
    auto p = std::make_unique<testsupport::ServerProcess>(testsupport::conveyor_binary(), env);
    REQUIRE(p->wait_ready());
    return p;
}

inline std::string submit(const testsupport::ServerProcess& s, const std::string& type,
                          const json& payload, int max_attempts = 3) {
    json job = {{"job_type", type}, {"payload", payload}, {"max_attempts", max_attempts}};
    auto r = testsupport::http_post_json(s.base_url() + "/jobs", job.dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"];
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

inline json get_job(const testsupport::ServerProcess& s, const std::string& id) {
    return testsupport::http_get(s.base_url() + "/jobs/" + id).json();
}

// Waits (generously) for the job to reach `status` and returns it.
inline json wait_for(const testsupport::ServerProcess& s, const std::string& id,
                     const std::string& status, int seconds = 20) {
    json last;
    bool reached = testsupport::wait_until(
        [&] {
            last = get_job(s, id);
            return last["status"] == status;
        },
        std::chrono::seconds(seconds), std::chrono::milliseconds(50));
    INFO("job " << id << " is " << last.dump() << "; log:\n" << s.log());
    REQUIRE(reached);
    return last;
}

inline std::string last_error(const json& job) {
    return job["last_error"].is_string() ? job["last_error"].get<std::string>() : "";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace handlertest
