// What a new user tripped over: misspelled fields, comma lists, the bearer scheme's case, health
// while draining, and the order of a batch.
#include <catch2/catch.hpp>

#include <signal.h>

#include "support/api.hpp"
#include "support/env.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::seconds;

TEST_CASE("a misspelled field in a job or a batch is 422 naming it, and nothing is stored") {
    Api api;
    auto one = http_post_json(api.url("/jobs"), R"({"job_type":"noop","max_atempts":7})");
    check_error(one, 422, "unknown_field");
    CHECK(one.json()["error"]["message"].get<std::string>().find("'max_atempts'") !=
          std::string::npos);
    auto item = http_post_json(api.url("/jobs/batch"),
                               R"({"jobs":[{"job_type":"noop"},{"job_type":"noop","runat":"x"}]})");
    check_error(item, 422, "unknown_field");
    CHECK(item.json()["error"]["message"].get<std::string>().rfind("jobs[1]: unknown field 'runat'",
                                                                   0) == 0);
    auto top = http_post_json(api.url("/jobs/batch"), R"({"jobs":[{"job_type":"noop"}],"x":1})");
    check_error(top, 422, "unknown_field");
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("GET /jobs takes a comma list of job types, and its next link keeps it") {
    Api api;
    for (const char* type : {"noop", "noop", "webhook"}) {
        json job = {{"job_type", type}, {"run_at", "2099-01-01T00:00:00Z"}};
        if (std::string(type) == "webhook")
            job["payload"] = {{"url", "http://127.0.0.1:9/"}};
        REQUIRE(http_post_json(api.url("/jobs"), job.dump()).status == 201);
    }
    auto both = http_get(api.url("/jobs?job_type=noop,webhook"));
    REQUIRE(both.status == 200);
    CHECK(both.json().size() == 3);
    CHECK(http_get(api.url("/jobs?job_type=webhook")).json().size() == 1);
    auto page = http_get(api.url("/jobs?job_type=noop,webhook&limit=2"));
    CHECK(page.header("link").find("job_type=noop%2Cwebhook&") != std::string::npos);
    check_error(http_get(api.url("/jobs?job_type=noop,")), 400, "invalid_query");
}

TEST_CASE("the bearer scheme is case-insensitive, the token is not") {
    Api api(std::map<std::string, std::string>{{"API_TOKEN", "s3cret"}});
    CHECK(http_get(api.url("/jobs"), {"Authorization: bearer s3cret"}).status == 200);
    CHECK(http_get(api.url("/jobs"), {"Authorization: BEARER s3cret"}).status == 200);
    CHECK(http_get(api.url("/jobs"), {"Authorization: Bearer S3CRET"}).status == 401);
    CHECK(http_get(api.url("/jobs"), {"Authorization: Basic s3cret"}).status == 401);
}

TEST_CASE("/healthz answers 503 draining with Retry-After while the process drains") {
    TestDatabase db;
    auto s = start_service(testd_binary(), db, {{"SHUTDOWN_TIMEOUT_S", "20"}});
    // A running job keeps the process draining long enough to ask.
    REQUIRE(http_post_json(s->base_url() + "/jobs",
                           R"({"job_type":"test","payload":{"sleep_ms":3000}})")
                .status == 201);
    REQUIRE(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'processing'") == 1; },
        seconds(10)));
    CHECK(http_get(s->base_url() + "/healthz").status == 200);
    s->signal(SIGTERM);
    REQUIRE(wait_until([&] { return s->log_contains("received SIGTERM"); }, seconds(5)));
    auto r = http_get(s->base_url() + "/healthz");
    CHECK(r.status == 503);
    CHECK(r.json() == json{{"status", "draining"}});
    CHECK(r.header("retry-after") == "1");
    auto post = http_post_json(s->base_url() + "/jobs", R"({"job_type":"noop"})");
    check_error(post, 503, "shutting_down");
    CHECK(post.header("retry-after") == "1");
    CHECK(s->wait_exit() == 0);
}

TEST_CASE("the jobs of one batch list in submission order") {
    Api api;
    json batch = {{"jobs", json::array()}};
    for (int i = 0; i < 200; ++i)
        batch["jobs"].push_back(
            {{"job_type", "noop"}, {"payload", {{"n", i}}}, {"run_at", "2099-01-01T00:00:00Z"}});
    auto r = http_post_json(api.url("/jobs/batch"), batch.dump());
    REQUIRE(r.status == 201);
    // Newest first: the last submitted comes first, and ids grow with submission order.
    auto listed = http_get(api.url("/jobs?limit=1000")).json();
    REQUIRE(listed.size() == 200);
    for (int i = 0; i < 200; ++i)
        CHECK(listed[i]["payload"]["n"] == 199 - i);
    for (int i = 1; i < 200; ++i)
        CHECK(r.json()[i - 1]["id"].get<std::string>() < r.json()[i]["id"].get<std::string>());
}
