// `slack` (the example job type of README "Adding a job type") against a fake incoming webhook,
// and the README's copy of its source against the file the build compiles.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"

using namespace handlertest;
using namespace testsupport;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The fenced ```cpp block that follows `marker` in `markdown`.
std::string code_block_after(const std::string& markdown, const std::string& marker) {
    auto at = markdown.find(marker);
    if (at == std::string::npos)
        return "";
    auto start = markdown.find("```cpp\n", at);
    if (start == std::string::npos)
        return "";
    start += 7;
    auto end = markdown.find("```\n", start);
    return end == std::string::npos ? "" : markdown.substr(start, end - start);
}

} // namespace

TEST_CASE("slack: posts the text as JSON to SLACK_WEBHOOK_URL") {
    FakeHttpServer hook([](const Request&, int) { return Response{200, "ok"}; });
    TestDatabase db;
    auto s = start_service(db, {{"SLACK_WEBHOOK_URL", hook.url("/services/T0/B0/secret")}});
    auto id = submit(*s, "slack", {{"text", "Deploy finished"}});
    CHECK(wait_for(*s, id, "done")["attempts"] == 1);
    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[0].target == "/services/T0/B0/secret");
    CHECK(reqs[0].header("content-type") == "application/json");
    CHECK(json::parse(reqs[0].body) == json{{"text", "Deploy finished"}});
}

TEST_CASE("slack: a refusal fails with Slack's reason, 5xx and 429 are retried") {
    FakeHttpServer hook([](const Request& r, int index) {
        if (r.body.find("refuse") != std::string::npos)
            return Response{403, "invalid_token"};
        return index < 3 ? Response{index == 1 ? 429 : 503, "busy"} : Response{200, "ok"};
    });
    TestDatabase db;
    auto s = start_service(db, {{"SLACK_WEBHOOK_URL", hook.url("/hook")}});
    auto retried = submit(*s, "slack", {{"text", "again"}}, 5);
    CHECK(wait_for(*s, retried, "done")["attempts"] == 4);
    auto refused = submit(*s, "slack", {{"text", "refuse"}}, 5);
    auto job = wait_for(*s, refused, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == "HTTP 403: invalid_token");
    CHECK(contains(rejected(*s, "slack", {{"text", 5}}), "text is required"));
}

TEST_CASE("slack: without SLACK_WEBHOOK_URL jobs fail at once, naming the setting") {
    TestDatabase db;
    auto s = start_service(db);
    auto job = wait_for(*s, submit(*s, "slack", {{"text", "hi"}}), "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == "SLACK_WEBHOOK_URL is not set");
}

TEST_CASE("the README's example job type is src/handlers/slack.cpp, character for character") {
    auto readme = read_file(std::string(CONVEYOR_SOURCE_DIR) + "/README.md");
    auto source = read_file(std::string(CONVEYOR_SOURCE_DIR) + "/src/handlers/slack.cpp");
    REQUIRE_FALSE(source.empty());
    CHECK(code_block_after(readme, "Example, `src/handlers/slack.cpp`") == source);
}
