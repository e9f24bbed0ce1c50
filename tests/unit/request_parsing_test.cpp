#include <catch2/catch.hpp>

#include <regex>

#include "handlers/registry.hpp"
#include "http/request_parsing.hpp"
#include "support/registry.hpp"

using namespace conveyor;

namespace {
const HandlerRegistry& registry() {
    return testsupport::builtin_registry();
}
ApiError error_of(const std::string& body) {
    auto r = parse_submission(body, registry());
    REQUIRE(std::holds_alternative<ApiError>(r));
    return std::get<ApiError>(r);
}
} // namespace

TEST_CASE("a valid submission becomes a NewJob with a generated id") {
    auto r = parse_submission(
        R"({"job_type":"noop","payload":{"a":[1,2]},"max_attempts":5,"run_at":"2030-01-01T00:00:00.5+02:00"})",
        registry());
    REQUIRE(std::holds_alternative<NewJob>(r));
    auto& j = std::get<NewJob>(r);
    CHECK(j.job_type == "noop");
    CHECK(j.payload == R"({"a":[1,2]})");
    CHECK(j.max_attempts == 5);
    CHECK(j.run_at == std::optional<std::string>("2030-01-01T00:00:00.5+02:00"));
    // A lower-case UUIDv7 (RFC 9562): version nibble 7, variant bits 10.
    INFO(j.id);
    CHECK(std::regex_match(
        j.id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
}

TEST_CASE("missing payload defaults to an empty object") {
    auto r = parse_submission(R"({"job_type":"noop"})", registry());
    REQUIRE(std::holds_alternative<NewJob>(r));
    CHECK(std::get<NewJob>(r).payload == "{}");
}

TEST_CASE("malformed JSON is 400, invalid jobs are 422") {
    CHECK(error_of("{").status == 400);
    CHECK(error_of("").status == 400);
    CHECK(error_of(std::string(100, '[') + std::string(100, ']')).status == 400);
    CHECK(error_of("[]").status == 422);
    CHECK(error_of(R"({"payload":{}})").code == "invalid_job_type");
    auto unknown = error_of(R"({"job_type":"nope","payload":{}})");
    CHECK(unknown.status == 422);
    CHECK(unknown.message.find("noop") != std::string::npos);
    CHECK(error_of(R"({"job_type":"noop","payload":[1]})").code == "invalid_payload");
    CHECK(error_of(R"({"job_type":"noop","payload":"x"})").code == "invalid_payload");
    CHECK(error_of(R"({"job_type":"noop","max_attempts":0})").code == "invalid_max_attempts");
    CHECK(error_of(R"({"job_type":"noop","max_attempts":101})").code == "invalid_max_attempts");
    CHECK(error_of(R"({"job_type":"noop","max_attempts":2.5})").code == "invalid_max_attempts");
    CHECK(error_of(R"({"job_type":"noop","run_at":"tomorrow"})").code == "invalid_run_at");
    CHECK(error_of(R"({"job_type":"noop","run_at":"2026-02-30T00:00:00Z"})").code ==
          "invalid_run_at");
}

TEST_CASE("RFC 3339 timestamps") {
    CHECK(is_rfc3339("2026-11-26T05:02:39Z"));
    CHECK(is_rfc3339("2026-11-26T05:02:39.123Z"));
    CHECK(is_rfc3339("2024-02-29T23:59:59-05:30"));
    CHECK_FALSE(is_rfc3339("2023-02-29T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("2026-11-26T05:02:39"));
    CHECK_FALSE(is_rfc3339("2026-11-26 05:02"));
    CHECK_FALSE(is_rfc3339("2026-13-01T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("2026-11-26T24:00:00Z"));
    CHECK_FALSE(is_rfc3339("2026-11-26T05:02:39.Z"));
}

TEST_CASE("a batch is all or nothing and names the bad index") {
    auto ok = parse_batch(R"({"jobs":[{"job_type":"noop"},{"job_type":"noop","payload":{"x":1}}]})",
                          registry());
    REQUIRE(std::holds_alternative<std::vector<NewJob>>(ok));
    CHECK(std::get<std::vector<NewJob>>(ok).size() == 2);
    auto bad = parse_batch(R"({"jobs":[{"job_type":"noop"},{"job_type":"nope"}]})", registry());
    REQUIRE(std::holds_alternative<ApiError>(bad));
    CHECK(std::get<ApiError>(bad).status == 422);
    CHECK(std::get<ApiError>(bad).message.find("jobs[1]") == 0);
    CHECK(std::holds_alternative<ApiError>(parse_batch(R"({"jobs":[]})", registry())));
    CHECK(std::holds_alternative<ApiError>(parse_batch(R"({"jobs":{}})", registry())));
}

TEST_CASE("list query parameters and cursors") {
    auto q = parse_list_query({{"status", "pending,done"}, {"limit", "5"}, {"job_type", "noop"}});
    REQUIRE(std::holds_alternative<ListQuery>(q));
    CHECK(std::get<ListQuery>(q).statuses.size() == 2);
    CHECK(std::get<ListQuery>(q).limit == 5);
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"status", "bogus"}})));
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"limit", "0"}})));
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"limit", "1001"}})));
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"limit", "-1"}})));
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"cursor", "garbage"}})));
    CHECK(std::holds_alternative<ApiError>(parse_list_query({{"other", "1"}})));
    Cursor c{1700000000123456, "01a21663-bcf9-7563-b322-1fbe79dbc39a"};
    auto back = decode_cursor(encode_cursor(c));
    REQUIRE(back);
    CHECK(back->created_us == c.created_us);
    CHECK(back->id == c.id);
    CHECK_FALSE(decode_cursor("123_notauuid"));
    CHECK_FALSE(decode_cursor("_01a21663-bcf9-7563-b322-1fbe79dbc39a"));
}

TEST_CASE("content types") {
    CHECK(is_json_content_type("application/json"));
    CHECK(is_json_content_type("Application/JSON; charset=utf-8"));
    CHECK_FALSE(is_json_content_type("text/plain"));
    CHECK_FALSE(is_json_content_type("application/x-www-form-urlencoded"));
}
