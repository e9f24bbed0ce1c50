// CORS_ALLOWED_ORIGINS over real HTTP (SPEC §11): preflights answered for allowed origins,
// Access-Control-Allow-Origin on answers and SSE streams for them only, nothing without the
// setting. The browser's side of it is tests/browser/dashboard_test.py.
#include <catch2/catch.hpp>

#include "support/api.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using Env = std::map<std::string, std::string>;

namespace {

const std::string kApp = "http://app.example:8080";

HttpResponse preflight(const Api& api, const std::string& path, const std::string& origin) {
    return http("OPTIONS", api.url(path), "",
                {"Origin: " + origin, "Access-Control-Request-Method: POST",
                 "Access-Control-Request-Headers: authorization, content-type"});
}

} // namespace

TEST_CASE("cors: a preflight from an allowed origin lists the methods and headers of the path") {
    Api api(Env{{"CORS_ALLOWED_ORIGINS", "https://other.example, " + kApp}});
    auto r = preflight(api, "/jobs", kApp);
    CHECK(r.status == 204);
    CHECK(r.header("access-control-allow-origin") == kApp);
    CHECK(r.header("access-control-allow-methods") == "GET, POST, OPTIONS");
    CHECK(r.header("access-control-allow-headers").find("Authorization") != std::string::npos);
    CHECK(r.header("access-control-allow-headers").find("Content-Type") != std::string::npos);
    CHECK(r.header("access-control-allow-headers").find("Last-Event-ID") != std::string::npos);
    CHECK(r.header("vary") == "Origin");
    auto q = preflight(api, "/queues/mail", kApp);
    CHECK(q.header("access-control-allow-methods") == "GET, PATCH, OPTIONS");
    // Origins compare without case in scheme and host, as browsers send them.
    CHECK(preflight(api, "/events", "HTTP://App.Example:8080")
              .header("access-control-allow-origin") == "HTTP://App.Example:8080");
}

TEST_CASE("cors: another origin gets no CORS header, so its page cannot read the answer") {
    Api api(Env{{"CORS_ALLOWED_ORIGINS", kApp}});
    for (const std::string origin : {"http://evil.example", "http://app.example:8081"}) {
        auto r = preflight(api, "/jobs", origin);
        CHECK(r.status == 204);
        CHECK(r.header("access-control-allow-origin").empty());
        CHECK(r.header("access-control-allow-methods").empty());
        CHECK(http_get(api.url("/queues"), {"Origin: " + origin})
                  .header("access-control-allow-origin")
                  .empty());
    }
    CHECK(preflight(api, "/no/such/route", kApp).status == 404);
}

TEST_CASE("cors: answers, errors and event streams carry the allowed origin") {
    Api api(Env{{"CORS_ALLOWED_ORIGINS", kApp}});
    auto created = http("POST", api.url("/jobs"), R"({"job_type":"noop","payload":{}})",
                        {"Content-Type: application/json", "Origin: " + kApp});
    CHECK(created.status == 201);
    CHECK(created.header("access-control-allow-origin") == kApp);
    // A page reads Location and Link only if they are exposed.
    CHECK(created.header("access-control-expose-headers").find("Location") != std::string::npos);
    CHECK(created.header("access-control-expose-headers").find("Link") != std::string::npos);
    auto refused =
        http("POST", api.url("/jobs"), "{", {"Content-Type: application/json", "Origin: " + kApp});
    CHECK(refused.status == 400);
    CHECK(refused.header("access-control-allow-origin") == kApp);
    SseClient stream(api.url("/events"), {"Origin: " + kApp});
    REQUIRE(wait_until([&] { return stream.raw().find("retry:") != std::string::npos; },
                       std::chrono::seconds(10)));
    CHECK(stream.header("access-control-allow-origin") == kApp);
}

TEST_CASE("cors: a 401 carries the origin too, so a page can tell it needs the token") {
    Api api(Env{{"CORS_ALLOWED_ORIGINS", kApp}, {"API_TOKEN", "cors-token-1"}});
    auto r = http_get(api.url("/jobs"), {"Origin: " + kApp});
    CHECK(r.status == 401);
    CHECK(r.header("access-control-allow-origin") == kApp);
    // Browsers send no credentials on a preflight: it is answered without the token.
    CHECK(preflight(api, "/jobs", kApp).status == 204);
}

TEST_CASE("cors: * allows every origin without Vary, and without the setting nothing is sent") {
    Api any(Env{{"CORS_ALLOWED_ORIGINS", "*"}});
    auto r = http_get(any.url("/queues"), {"Origin: http://anywhere.example"});
    CHECK(r.header("access-control-allow-origin") == "*");
    CHECK(r.header("vary").empty());
    Api off;
    auto p = preflight(off, "/jobs", kApp);
    CHECK(p.status == 204);
    CHECK(p.header("allow") == "GET, POST, OPTIONS");
    CHECK(p.header("access-control-allow-origin").empty());
    CHECK(http_get(off.url("/queues"), {"Origin: " + kApp})
              .header("access-control-allow-origin")
              .empty());
}

TEST_CASE("cors: a bad CORS_ALLOWED_ORIGINS stops start-up naming the variable") {
    TestDatabase db;
    ServerProcess s(conveyor_binary(),
                    {{"DATABASE_URL", db.url()}, {"CORS_ALLOWED_ORIGINS", "app.example/path"}});
    CHECK(s.wait_exit() == 2);
    CHECK(s.log_contains("CORS_ALLOWED_ORIGINS"));
}
