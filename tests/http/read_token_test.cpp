// API_READ_TOKEN over real HTTP. The cases walk HttpServer::routes(), the table the router is
// built from, so a route added there is covered here without touching this file.
#include <catch2/catch.hpp>

#include <chrono>

#include "http/server.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using conveyor::Access;
using conveyor::HttpServer;
using nlohmann::json;

namespace {

const std::string kWrite = "write-tok-5b1e0c9a7d3f4e21";
const std::string kRead = "read-tok-8c2d4f6a1b3e5d70";

struct ReadApi {
    TestDatabase db;
    ServerProcess server;
    ReadApi()
        : server(conveyor_binary(), {{"DATABASE_URL", db.url()},
                                     {"API_TOKEN", kWrite},
                                     {"API_READ_TOKEN", kRead},
                                     {"LOG_LEVEL", "debug"}}) {
        REQUIRE(server.wait_ready());
    }
    HttpResponse call(const std::string& method, const std::string& path, const std::string& token,
                      const std::string& body = "{}") {
        return http(method, server.base_url() + path, method == "GET" ? "" : body,
                    {"Content-Type: application/json", "Authorization: Bearer " + token});
    }
};

// The pattern with every `:param` segment filled in: a real job id for `:id`, `default` else.
std::string concrete(const std::string& pattern, const std::string& job_id) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        if (pattern[i] == ':') {
            auto end = pattern.find('/', i);
            auto name = pattern.substr(i + 1, end == std::string::npos ? end : end - i - 1);
            out += name == "id" ? job_id : "default";
            i = end == std::string::npos ? pattern.size() : end;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

// The route was found (not "no route for") and the token was accepted.
void check_reached(const HttpResponse& r) {
    INFO(r.status << " " << r.body);
    CHECK(r.status != 401);
    CHECK(r.status != 403);
    CHECK(r.status != 405);
    CHECK(r.body.find("no route for") == std::string::npos);
}

long events_status(const std::string& url, std::vector<std::string> headers = {}) {
    SseClient sse(url, std::move(headers));
    wait_until([&] { return sse.finished() || !sse.raw().empty(); }, std::chrono::seconds(10));
    bool streaming = !sse.finished() && sse.raw().find("retry:") != std::string::npos;
    sse.stop();
    return streaming ? 200 : sse.status();
}

std::string snapshot(const TestDatabase& db) {
    return db.text("SELECT (SELECT count(*) FROM jobs)::text || '/' || "
                   "(SELECT coalesce(string_agg(status || attempts, ',' ORDER BY id), '') FROM "
                   "jobs) || '/' || (SELECT count(*) FROM queues)::text");
}

} // namespace

TEST_CASE("route table: GET routes read, every method that can change state writes") {
    auto routes = HttpServer::routes();
    REQUIRE(routes.size() >= 10);
    bool health = false;
    for (const auto& r : routes) {
        INFO(r.method << " " << r.pattern);
        bool safe = r.method == "GET" || r.method == "HEAD" || r.method == "OPTIONS";
        CHECK(safe == (r.access != Access::write));
        health = health || (r.pattern == "/healthz" && r.access == Access::open);
    }
    CHECK(health);
}

TEST_CASE("the read-only token gets 403 on every route that changes state, and changes nothing") {
    ReadApi api;
    auto created =
        api.call("POST", "/jobs", kWrite, R"({"job_type":"noop","run_at":"2099-01-01T00:00:00Z"})");
    REQUIRE(created.status == 201);
    std::string id = created.json()["id"];
    auto before = snapshot(api.db);
    int writes = 0;
    for (const auto& r : HttpServer::routes()) {
        if (r.access != Access::write)
            continue;
        ++writes;
        auto path = concrete(r.pattern, id);
        INFO(r.method << " " << path);
        auto denied = api.call(r.method, path, kRead);
        INFO(denied.body);
        CHECK(denied.status == 403);
        auto j = denied.json();
        CHECK(j["error"]["code"] == "read_only_token");
        CHECK(j["error"]["message"].get<std::string>().find("API_READ_TOKEN") != std::string::npos);
        // A wrong token is still 401, not 403.
        CHECK(api.call(r.method, path, kRead + "x").status == 401);
    }
    CHECK(writes >= 5);
    CHECK(snapshot(api.db) == before);
    // The same requests with the full token reach their handlers.
    for (const auto& r : HttpServer::routes())
        if (r.access == Access::write) {
            INFO(r.method << " " << r.pattern);
            check_reached(api.call(r.method, concrete(r.pattern, id), kWrite));
        }
}

TEST_CASE("the read-only token reads every GET route and streams /events") {
    ReadApi api;
    auto created = api.call("POST", "/jobs", kWrite, R"({"job_type":"noop"})");
    REQUIRE(created.status == 201);
    std::string id = created.json()["id"];
    int reads = 0;
    for (const auto& r : HttpServer::routes()) {
        if (r.access == Access::write)
            continue;
        auto path = concrete(r.pattern, id);
        INFO(r.method << " " << path);
        ++reads;
        if (r.access == Access::stream) {
            CHECK(events_status(api.server.base_url() + path, {"Authorization: Bearer " + kRead}) ==
                  200);
            CHECK(events_status(api.server.base_url() + path + "?access_token=" + kRead) == 200);
            continue;
        }
        check_reached(api.call("GET", path, kRead));
    }
    CHECK(reads >= 5);
    auto job = api.call("GET", "/jobs/" + id, kRead);
    CHECK(job.status == 200);
    CHECK(job.json()["id"] == id);
    // The read-only token is never logged.
    CHECK_FALSE(api.server.log_contains(kRead));
    CHECK_FALSE(api.server.log_contains(kWrite));
}
