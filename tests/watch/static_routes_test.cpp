// The dashboard's files and the OpenAPI document are served from inside the binary.
#include <catch2/catch.hpp>

#include "support/api.hpp"

using namespace testsupport;
using Env = std::map<std::string, std::string>;

TEST_CASE("dashboard: / redirects to /ui/, which serves the page and its files") {
    Api api;
    auto root = http_get(api.url("/"));
    CHECK(root.status == 302);
    CHECK(root.header("location") == "/ui/");
    CHECK(http_get(api.url("/ui")).header("location") == "/ui/");
    auto page = http_get(api.url("/ui/"));
    CHECK(page.status == 200);
    CHECK(page.header("content-type") == "text/html; charset=utf-8");
    CHECK(page.body.find("/ui/app.js") != std::string::npos);
    CHECK(http_get(api.url("/ui/app.js")).header("content-type") ==
          "text/javascript; charset=utf-8");
    CHECK(http_get(api.url("/ui/app.css")).header("content-type") == "text/css; charset=utf-8");
    check_error(http_get(api.url("/ui/missing.js")), 404, "not_found");
    check_error(http("POST", api.url("/metrics")), 405, "method_not_allowed");
}

TEST_CASE("dashboard: its files load without the token, which the page asks for itself") {
    Api api(Env{{"API_TOKEN", "ui-token-1"}});
    CHECK(http_get(api.url("/ui/")).status == 200);
    CHECK(http_get(api.url("/ui/app.js")).status == 200);
    CHECK(http_get(api.url("/openapi.json")).status == 401);
    CHECK(http_get(api.url("/openapi.json"), {"Authorization: Bearer ui-token-1"}).status == 200);
}

TEST_CASE("openapi: /openapi.json is an OpenAPI 3.1 document of the routes") {
    Api api;
    auto r = http_get(api.url("/openapi.json"));
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "application/json");
    auto doc = r.json();
    REQUIRE(doc.is_object());
    CHECK(doc["openapi"] == "3.1.0");
    for (const char* path : {"/jobs", "/jobs/batch", "/jobs/{id}", "/events", "/queues",
                             "/queues/{name}", "/healthz", "/metrics", "/openapi.json"})
        CHECK(doc["paths"].contains(path));
}
