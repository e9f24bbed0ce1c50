// `telegram` against a fake Bot API (a real HTTP server on loopback) and the real service.
#include <catch2/catch.hpp>

#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"

using namespace handlertest;
using namespace testsupport;

namespace {

const std::string kToken = "123456789:AAE-secret_TOKEN-value";

std::map<std::string, std::string> bot_env(const FakeHttpServer& api) {
    return {{"TELEGRAM_API_URL", api.url()}, {"TELEGRAM_BOT_TOKEN", kToken}};
}

Response api_ok(const Request&, int) {
    return Response{200, R"({"ok":true,"result":{"message_id":1,"chat":{"id":42}}})"};
}

void check_no_token(const ServerProcess& s, const json& job) {
    CHECK_FALSE(contains(last_error(job), kToken));
    CHECK_FALSE(contains(last_error(job), "AAE-secret"));
    CHECK_FALSE(s.log_contains(kToken));
    CHECK_FALSE(s.log_contains("AAE-secret"));
}

} // namespace

TEST_CASE("telegram: sendMessage gets the chat and text as JSON") {
    FakeHttpServer api(api_ok);
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    auto a = submit(*s, "telegram", {{"chat_id", 42}, {"text", "Deploy finished ✓"}});
    auto b = submit(*s, "telegram", {{"chat_id", "@conveyor_news"}, {"text", "line 1\nline 2"}});
    CHECK(wait_for(*s, a, "done")["attempts"] == 1);
    CHECK(wait_for(*s, b, "done")["attempts"] == 1);

    auto reqs = api.requests();
    REQUIRE(reqs.size() == 2);
    for (const auto& r : reqs) {
        CHECK(r.method == "POST");
        CHECK(r.target == "/bot" + kToken + "/sendMessage");
        CHECK(r.header("content-type") == "application/json");
    }
    std::vector<json> bodies = {json::parse(reqs[0].body), json::parse(reqs[1].body)};
    json first = {{"chat_id", 42}, {"text", "Deploy finished ✓"}};
    json second = {{"chat_id", "@conveyor_news"}, {"text", "line 1\nline 2"}};
    CHECK(std::count(bodies.begin(), bodies.end(), first) == 1);
    CHECK(std::count(bodies.begin(), bodies.end(), second) == 1);
    CHECK_FALSE(s->log_contains(kToken));
}

TEST_CASE("telegram: ok:false with 400 fails permanently with the description") {
    FakeHttpServer api([](const Request&, int) {
        return Response{
            400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})"};
    });
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "400"));
    CHECK(contains(last_error(job), "Bad Request: chat not found"));
    check_no_token(*s, job);
}

TEST_CASE("telegram: 429 is transient, then success ends done") {
    FakeHttpServer api([](const Request& r, int index) {
        if (index == 0)
            return Response{
                429,
                R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1",)"
                R"("parameters":{"retry_after":1}})"};
        return api_ok(r, index);
    });
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}}, 5);
    auto job = wait_for(*s, id, "done");
    CHECK(job["attempts"] == 2);
    CHECK(contains(last_error(job), "429"));
    CHECK(contains(last_error(job), "Too Many Requests"));
    check_no_token(*s, job);
}

TEST_CASE("telegram: the token never reaches last_error or the log") {
    SECTION("a description that quotes the token") {
        FakeHttpServer api([](const Request& r, int) {
            return Response{401, R"({"ok":false,"error_code":401,"description":"Unauthorized: )" +
                                     r.target + "\"}"};
        });
        TestDatabase db;
        auto s = start_service(db, bot_env(api));
        auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}});
        auto job = wait_for(*s, id, "failed");
        CHECK(contains(last_error(job), "Unauthorized"));
        check_no_token(*s, job);
    }
    SECTION("a non-JSON answer that echoes the URL") {
        FakeHttpServer api([](const Request& r, int) {
            return Response{502, "<html>bad gateway for " + r.target};
        });
        TestDatabase db;
        auto s = start_service(db, bot_env(api));
        auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}}, 2);
        auto job = wait_for(*s, id, "failed");
        CHECK(job["attempts"] == 2);
        CHECK(contains(last_error(job), "502"));
        check_no_token(*s, job);
    }
    SECTION("a refused connection") {
        int port;
        {
            FakeHttpServer gone(api_ok);
            port = gone.port();
        }
        TestDatabase db;
        auto s =
            start_service(db, {{"TELEGRAM_API_URL", "http://127.0.0.1:" + std::to_string(port)},
                               {"TELEGRAM_BOT_TOKEN", kToken}});
        auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}}, 2);
        auto job = wait_for(*s, id, "failed");
        CHECK(job["attempts"] == 2);
        CHECK_FALSE(last_error(job).empty());
        check_no_token(*s, job);
    }
}

TEST_CASE("telegram: without TELEGRAM_BOT_TOKEN jobs fail permanently") {
    FakeHttpServer api(api_ok);
    TestDatabase db;
    auto s = start_service(db, {{"TELEGRAM_API_URL", api.url()}});
    auto id = submit(*s, "telegram", {{"chat_id", 1}, {"text", "hi"}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == "TELEGRAM_BOT_TOKEN is not configured");
    CHECK(api.request_count() == 0);
}

TEST_CASE("telegram: invalid payloads name the field, at submit and when stored directly") {
    FakeHttpServer api(api_ok);
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    CHECK(contains(rejected(*s, "telegram", {{"text", "hi"}}), "chat_id"));
    CHECK(contains(rejected(*s, "telegram", {{"chat_id", 1.5}, {"text", "hi"}}), "chat_id"));
    CHECK(contains(rejected(*s, "telegram", {{"chat_id", true}, {"text", "hi"}}), "chat_id"));
    CHECK(contains(rejected(*s, "telegram", {{"chat_id", ""}, {"text", "hi"}}), "chat_id"));
    CHECK(contains(rejected(*s, "telegram", {{"chat_id", 1}}), "text"));
    CHECK(contains(rejected(*s, "telegram", {{"chat_id", 1}, {"text", ""}}), "text"));

    json bad = {{"chat_id", {1, 2}}, {"text", "hi"}};
    auto message = rejected(*s, "telegram", bad);
    CHECK(contains(message, "chat_id"));
    auto id = insert_directly(db, "telegram", bad);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == message);
    CHECK(api.request_count() == 0);
}

TEST_CASE("telegram: the documented optional sendMessage fields are forwarded as given") {
    FakeHttpServer api(api_ok);
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    json payload = {
        {"chat_id", -1001234567890},
        {"text", "<b>Deploy</b> finished"},
        {"business_connection_id", "bc-1"},
        {"message_thread_id", 17},
        {"parse_mode", "HTML"},
        {"entities", {{{"type", "bold"}, {"offset", 0}, {"length", 6}}}},
        {"link_preview_options", {{"is_disabled", true}}},
        {"disable_web_page_preview", true},
        {"disable_notification", true},
        {"protect_content", false},
        {"allow_paid_broadcast", false},
        {"message_effect_id", "5104841245755180586"},
        {"reply_parameters", {{"message_id", 99}, {"allow_sending_without_reply", true}}},
        {"reply_markup",
         {{"inline_keyboard", {{{{"text", "Open"}, {"url", "https://example.com/d/1"}}}}}}},
    };
    auto id = submit(*s, "telegram", payload);
    CHECK(wait_for(*s, id, "done")["attempts"] == 1);
    auto reqs = api.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(json::parse(reqs[0].body) == payload);
}

TEST_CASE("telegram: unknown and mistyped fields are refused naming the field") {
    FakeHttpServer api(api_ok);
    TestDatabase db;
    auto s = start_service(db, bot_env(api));
    json base = {{"chat_id", 1}, {"text", "hi"}};
    auto with = [&](const char* name, json value) {
        json p = base;
        p[name] = std::move(value);
        return p;
    };
    auto unknown = rejected(*s, "telegram", with("parse_mod", "HTML"));
    CHECK(unknown.rfind("unknown field 'parse_mod' (sendMessage takes chat_id, text, ", 0) == 0);
    CHECK(contains(unknown, "parse_mode"));
    CHECK(contains(rejected(*s, "telegram", with("reply_to_message_id", 5)),
                   "unknown field 'reply_to_message_id'"));
    CHECK(rejected(*s, "telegram", with("parse_mode", 1)) == "parse_mode must be a string");
    CHECK(rejected(*s, "telegram", with("message_thread_id", "7")) ==
          "message_thread_id must be an integer");
    CHECK(rejected(*s, "telegram", with("disable_notification", "yes")) ==
          "disable_notification must be a boolean");
    CHECK(rejected(*s, "telegram", with("entities", json::object())) ==
          "entities must be an array");
    CHECK(rejected(*s, "telegram", with("reply_markup", "[]")) == "reply_markup must be an object");

    // Stored behind the API's back, it fails permanently without calling the Bot API.
    auto id = insert_directly(db, "telegram", with("silent", true));
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job).rfind("unknown field 'silent'", 0) == 0);
    CHECK(api.request_count() == 0);
}
