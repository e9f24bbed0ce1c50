#pragma once
// A fresh database and a real service process on it: the fixture of the HTTP-level tests.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>

#include "support/database.hpp"
#include "support/http_client.hpp"
#include "support/jobs.hpp"
#include "support/server_process.hpp"

namespace testsupport {

struct Api {
    TestDatabase db;
    std::unique_ptr<ServerProcess> process;
    ServerProcess& server;

    explicit Api(std::map<std::string, std::string> env = {})
        : process(start_service(conveyor_binary(), db, std::move(env))), server(*process) {}

    std::string url(const std::string& path) const { return server.base_url() + path; }
    // A normal client is answered promptly.
    bool healthy(long timeout_ms = 5000) const {
        return http("GET", url("/healthz"), "", {}, timeout_ms).status == 200;
    }
};

// The error envelope of SPEC §4 with the given status and code, and a non-empty message.
inline void check_error(const HttpResponse& r, long status, const std::string& code) {
    INFO(r.status << " " << r.body);
    CHECK(r.status == status);
    CHECK(r.header("content-type") == "application/json");
    auto j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["error"]["code"] == code);
    CHECK(j["error"]["message"].is_string());
    CHECK_FALSE(j["error"]["message"].get<std::string>().empty());
}

} // namespace testsupport
