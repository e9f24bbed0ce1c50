// PUT /schedules/<name> bodies: a valid one normalized, every invalid field a 422 naming it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "http/schedule_parsing.hpp"
#include "support/registry.hpp"

using namespace conveyor;
using nlohmann::json;

namespace {

std::variant<ScheduleSpec, ApiError> parse(const std::string& name, const json& body) {
    return parse_schedule(name, body.dump(), testsupport::builtin_registry());
}

void refused(const std::string& name, const std::string& body, const std::string& code,
             const std::string& mentions) {
    auto r = parse_schedule(name, body, testsupport::builtin_registry());
    INFO(name << " " << body);
    REQUIRE(std::holds_alternative<ApiError>(r));
    const auto& e = std::get<ApiError>(r);
    CHECK(e.status == 422);
    CHECK(e.code == code);
    CHECK_THAT(e.message, Catch::Contains(mentions));
}

} // namespace

TEST_CASE("a schedule body becomes a spec whose job has every field explicit") {
    auto r = parse("nightly-report",
                   {{"cron", "0 3 * * *"},
                    {"timezone", "Europe/Berlin"},
                    {"job", {{"job_type", "noop"}, {"queue", "reports"}, {"priority", 2}}}});
    REQUIRE(std::holds_alternative<ScheduleSpec>(r));
    const auto& s = std::get<ScheduleSpec>(r);
    CHECK(s.name == "nightly-report");
    CHECK(s.cron == "0 3 * * *");
    CHECK(s.timezone == "Europe/Berlin");
    CHECK(s.enabled);
    CHECK(json::parse(s.job) == json{{"job_type", "noop"},
                                     {"queue", "reports"},
                                     {"priority", 2},
                                     {"payload", json::object()},
                                     {"max_attempts", 3}});
    auto utc =
        parse("x", {{"cron", "@daily"}, {"job", {{"job_type", "noop"}}}, {"enabled", false}});
    REQUIRE(std::holds_alternative<ScheduleSpec>(utc));
    CHECK(std::get<ScheduleSpec>(utc).timezone == "UTC");
    CHECK_FALSE(std::get<ScheduleSpec>(utc).enabled);
}

TEST_CASE("invalid schedules are 422s naming the field") {
    const std::string job = R"("job":{"job_type":"noop"})";
    refused("x", R"({"cron":"61 * * * *",)" + job + "}", "invalid_cron", "minute");
    refused("x", R"({"cron":"* * *",)" + job + "}", "invalid_cron", "5 fields");
    refused("x", R"({"cron":"*/0 * * * *",)" + job + "}", "invalid_cron", "step");
    refused("x", R"({"cron":"* * * FOO *",)" + job + "}", "invalid_cron", "month");
    refused("x", R"({"cron":"0 0 30 2 *",)" + job + "}", "invalid_cron", "matches no date");
    refused("x", R"({"cron":5,)" + job + "}", "invalid_cron", "cron is required");
    refused("x", "{" + job + "}", "invalid_cron", "cron is required");
    refused("x", R"({"cron":"@daily","timezone":"Mars/Olympus",)" + job + "}", "invalid_timezone",
            "Mars/Olympus");
    refused("x", R"({"cron":"@daily","timezone":3,)" + job + "}", "invalid_timezone", "IANA");
    refused("Bad Name", R"({"cron":"@daily",)" + job + "}", "invalid_schedule_name",
            "schedule name");
    refused(std::string(65, 'a'), R"({"cron":"@daily",)" + job + "}", "invalid_schedule_name",
            "1..64");
    refused("x", R"({"cron":"@daily"})", "invalid_job", "job is required");
    refused("x", R"({"cron":"@daily","job":{"job_type":"nope"}})", "unknown_job_type", "job: ");
    refused("x", R"({"cron":"@daily","job":{"job_type":"noop","priority":10}})", "invalid_priority",
            "job: priority");
    refused("x", R"({"cron":"@daily","job":{"job_type":"noop","run_at":"2030-01-01T00:00:00Z"}})",
            "unknown_field", "run_at");
    refused("x", R"({"cron":"@daily","job":{"job_type":"noop","max_atempts":2}})", "unknown_field",
            "max_atempts");
    refused("x", R"({"cron":"@daily","enabled":"yes",)" + job + "}", "invalid_enabled", "enabled");
    refused("x", R"({"cron":"@daily","every":"day",)" + job + "}", "unknown_field", "every");
    refused("x", R"([1,2])", "invalid_schedule", "object");
}

TEST_CASE("a malformed schedule body is a 400") {
    auto r = parse_schedule("x", "{not json", testsupport::builtin_registry());
    REQUIRE(std::holds_alternative<ApiError>(r));
    CHECK(std::get<ApiError>(r).status == 400);
}
