// The /schedules routes (SPEC §4): create, replace, read, list, trigger, delete; refusals; and
// the maintainer enqueueing a due slot.
#include <catch2/catch.hpp>

#include "support/api.hpp"

using namespace testsupport;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

HttpResponse put(const Api& api, const std::string& name, const json& body) {
    return http("PUT", api.url("/schedules/" + name), body.dump());
}

const json kReport = {{"cron", "0 3 * * *"},
                      {"timezone", "Europe/Berlin"},
                      {"job",
                       {{"job_type", "noop"},
                        {"queue", "reports"},
                        {"priority", 2},
                        {"payload", {{"kind", "daily"}}}}}};

} // namespace

TEST_CASE("a schedule is created, replaced, read, listed, triggered and deleted") {
    Api api;
    auto created = put(api, "nightly", kReport);
    INFO(created.body);
    REQUIRE(created.status == 201);
    auto s = created.json();
    CHECK(s["name"] == "nightly");
    CHECK(s["cron"] == "0 3 * * *");
    CHECK(s["timezone"] == "Europe/Berlin");
    CHECK(s["enabled"] == true);
    CHECK(s["job"]["queue"] == "reports");
    CHECK(s["next_run_at"].get<std::string>().find(":00:00.000Z") != std::string::npos);
    CHECK(s["last_run_at"].is_null());
    auto replaced = kReport;
    replaced["cron"] = "@hourly";
    auto again = put(api, "nightly", replaced);
    CHECK(again.status == 200);
    CHECK(again.json()["cron"] == "@hourly");
    CHECK(http_get(api.url("/schedules/nightly")).json() == again.json());
    auto list = http_get(api.url("/schedules"));
    CHECK(list.status == 200);
    CHECK(list.json() == json::array({again.json()}));
    auto triggered = http_post_json(api.url("/schedules/nightly/trigger"), "");
    INFO(triggered.body);
    REQUIRE(triggered.status == 201);
    auto job = triggered.json();
    CHECK(job["queue"] == "reports");
    CHECK(job["priority"] == 2);
    CHECK(job["payload"] == json{{"kind", "daily"}});
    CHECK(triggered.header("location") == "/jobs/" + job["id"].get<std::string>());
    auto deleted = http("DELETE", api.url("/schedules/nightly"));
    CHECK(deleted.status == 204);
    CHECK(deleted.body.empty());
    check_error(http_get(api.url("/schedules/nightly")), 404, "not_found");
    check_error(http("DELETE", api.url("/schedules/nightly")), 404, "not_found");
    check_error(http_post_json(api.url("/schedules/nightly/trigger"), ""), 404, "not_found");
    CHECK(http_get(api.url("/schedules")).json() == json::array());
}

TEST_CASE("a schedule's unique_key is honoured: a trigger while its job is unfinished answers "
          "that job") {
    Api api;
    REQUIRE(http("POST", api.url("/queues/keyed/pause")).status == 200);
    auto body = json{{"cron", "@daily"},
                     {"job", {{"job_type", "noop"}, {"queue", "keyed"}, {"unique_key", "once"}}}};
    auto stored = put(api, "keyed", body);
    REQUIRE(stored.status == 201);
    CHECK(stored.json()["job"]["unique_key"] == "once");
    auto first = http_post_json(api.url("/schedules/keyed/trigger"), "");
    INFO(first.body);
    REQUIRE(first.status == 201);
    CHECK(first.json()["unique_key"] == "once");
    auto again = http_post_json(api.url("/schedules/keyed/trigger"), "");
    INFO(again.body);
    REQUIRE(again.status == 200);
    CHECK(again.json()["duplicate"] == true);
    CHECK(again.json()["id"] == first.json()["id"]);
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 1);
    // A due slot while the job still waits enqueues nothing either, and says so.
    api.db.exec("UPDATE schedules SET next_run_at = now() - interval '1 second'");
    REQUIRE(wait_until([&] { return api.server.log_contains("holds its unique_key"); }, seconds(10),
                       milliseconds(100)));
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 1);
    // Once it ran, the key is free: the next trigger makes a new job.
    REQUIRE(http("POST", api.url("/queues/keyed/resume")).status == 200);
    wait_for_status(api.server, first.json()["id"].get<std::string>(), "done");
    auto later = http_post_json(api.url("/schedules/keyed/trigger"), "");
    CHECK(later.status == 201);
    CHECK(later.json()["id"] != first.json()["id"]);
}

TEST_CASE("schedule requests that cannot be done are refused naming the field") {
    Api api;
    auto bad_cron = kReport;
    bad_cron["cron"] = "61 * * * *";
    check_error(put(api, "x", bad_cron), 422, "invalid_cron");
    auto bad_zone = kReport;
    bad_zone["timezone"] = "Mars/Olympus";
    check_error(put(api, "x", bad_zone), 422, "invalid_timezone");
    check_error(put(api, "Not_A_Name", kReport), 422, "invalid_schedule_name");
    auto bad_job = kReport;
    bad_job["job"]["job_type"] = "nope";
    check_error(put(api, "x", bad_job), 422, "unknown_job_type");
    check_error(http("PUT", api.url("/schedules/x"), kReport.dump(), {"Content-Type: text/plain"}),
                415, "unsupported_media_type");
    check_error(http_get(api.url("/schedules/Not%20A%20Name")), 404, "not_found");
    auto wrong = http("POST", api.url("/schedules"), "{}");
    check_error(wrong, 405, "method_not_allowed");
    CHECK(wrong.header("allow") == "GET");
    CHECK(http("PATCH", api.url("/schedules/x"), "{}").header("allow") == "DELETE, GET, PUT");
    CHECK(http_get(api.url("/schedules/x/trigger")).header("allow") == "POST");
    CHECK(http_get(api.url("/schedules")).json() == json::array());
}

TEST_CASE("triggering a schedule whose job is no longer valid is a 500 with the cause logged") {
    Api api;
    api.db.exec("INSERT INTO schedules (name, cron, job) VALUES ('old', '@daily', "
                "'{\"job_type\":\"retired\"}')");
    check_error(http_post_json(api.url("/schedules/old/trigger"), ""), 500, "internal_error");
    CHECK(api.server.log_contains("schedule 'old' cannot be triggered"));
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("the maintainer enqueues a due slot once, and a disabled schedule none") {
    Api api;
    REQUIRE(put(api, "hourly", {{"cron", "@hourly"}, {"job", {{"job_type", "noop"}}}}).status ==
            201);
    auto off =
        put(api, "off", {{"cron", "@hourly"}, {"job", {{"job_type", "noop"}}}, {"enabled", false}});
    REQUIRE(off.status == 201);
    CHECK(off.json()["next_run_at"].is_null());
    // Both overdue by two slots, as after downtime.
    api.db.exec(
        "UPDATE schedules SET next_run_at = date_trunc('hour', now()) - interval '2 hours'");
    REQUIRE(wait_until([&] { return api.db.count("SELECT count(*) FROM jobs") >= 1; }, seconds(10),
                       milliseconds(100)));
    std::this_thread::sleep_for(seconds(3)); // several more ticks
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 1);
    // The latest missed slot ran (this hour's), and the next is the coming hour.
    CHECK(api.db.count(
              "SELECT count(*) FROM jobs WHERE scheduled_at = date_trunc('hour', now())") == 1);
    auto s = http_get(api.url("/schedules/hourly")).json();
    CHECK_FALSE(s["last_run_at"].is_null());
    CHECK(api.db.count("SELECT count(*) FROM schedules WHERE name = 'hourly' AND next_run_at = "
                       "date_trunc('hour', now()) + interval '1 hour'") == 1);
    CHECK(api.server.log_contains("schedule 'hourly' enqueued job"));
    CHECK_FALSE(api.server.log_contains("schedule 'off'"));
}
