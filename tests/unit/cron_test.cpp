// Cron expressions (SPEC §10): what parses, what is refused naming the field, and when slots fall,
// daylight-saving transitions included.
#include <catch2/catch.hpp>

#include <ctime>

#include "model/cron.hpp"
#include "model/cron_schedule.hpp"

using namespace conveyor;

namespace {

std::int64_t epoch(const std::string& utc) {
    std::tm tm{};
    REQUIRE(strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr);
    return static_cast<std::int64_t>(timegm(&tm));
}

CronExpr cron(const std::string& text) {
    auto parsed = parse_cron(text);
    INFO(text << ": "
              << (std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed)
                                                              : std::string("ok")));
    REQUIRE(std::holds_alternative<CronExpr>(parsed));
    return std::get<CronExpr>(parsed);
}

std::string next(const std::string& text, const std::string& zone, const std::string& after) {
    const auto* tz = find_time_zone(zone);
    REQUIRE(tz != nullptr);
    auto slot = next_slot(cron(text), tz, epoch(after));
    return slot ? utc_text(*slot) : "never";
}

} // namespace

TEST_CASE("cron: fields, lists, ranges, steps, names and nicknames parse") {
    for (const char* ok : {"* * * * *", "*/5 * * * *", "0 9-17/2 * * 1-5", "0,30 * * * *",
                           "15 10 * * MON-FRI", "0 0 1 jan,JUL *", "0 0 * * 7", "5/15 * * * *",
                           "  0   0  *  *  *  ", "0\t0\t*\t*\t*", "@hourly", "@daily", "@midnight",
                           "@weekly", "@monthly", "@yearly", "@annually", "@DAILY"})
        cron(ok);
    auto e = cron("0 9-17/2 * * 1-5");
    CHECK(e.hours.test(9));
    CHECK(e.hours.test(11));
    CHECK_FALSE(e.hours.test(10));
    CHECK(e.hours.test(17));
    CHECK(cron("0 0 * * 7").weekdays.test(0));
}

TEST_CASE("cron: invalid expressions are refused with a message naming the field") {
    const std::pair<const char*, const char*> bad[] = {{"61 * * * *", "minute"},
                                                       {"* * *", "5 fields"},
                                                       {"*/0 * * * *", "step"},
                                                       {"* 24 * * *", "hour"},
                                                       {"* * 0 * *", "day-of-month"},
                                                       {"* * 32 * *", "day-of-month"},
                                                       {"* * * 13 *", "month"},
                                                       {"* * * foo *", "month"},
                                                       {"* * * * 8", "day-of-week"},
                                                       {"* * * * SUNDAY", "day-of-week"},
                                                       {"JAN * * * *", "minute"},
                                                       {"5-1 * * * *", "upwards"},
                                                       {"1,,2 * * * *", "empty"},
                                                       {"*/ * * * *", "step"},
                                                       {"1/2/3 * * * *", "step"},
                                                       {"@reboot", "@yearly"},
                                                       {"", "5 fields"},
                                                       {"* * * * * *", "5 fields"},
                                                       {"-1 * * * *", "minute"},
                                                       {"1-2-3 * * * *", "minute"},
                                                       {"*/61 * * * *", "step"},
                                                       {"9999 * * * *", "minute"}};
    for (const auto& [text, mentions] : bad) {
        auto parsed = parse_cron(text);
        INFO(text);
        REQUIRE(std::holds_alternative<std::string>(parsed));
        CHECK_THAT(std::get<std::string>(parsed), Catch::Contains(mentions));
    }
    CHECK(std::holds_alternative<std::string>(parse_cron(std::string(300, '*'))));
}

TEST_CASE("cron: next slots in UTC, @monthly from the 31st and days that rarely come") {
    CHECK(next("*/5 * * * *", "UTC", "2026-12-02T01:44:10Z") == "2026-12-02T01:45:00Z");
    CHECK(next("*/5 * * * *", "UTC", "2026-12-02T01:45:00Z") == "2026-12-02T01:50:00Z");
    CHECK(next("@monthly", "UTC", "2026-01-31T12:00:00Z") == "2026-02-01T00:00:00Z");
    CHECK(next("@monthly", "UTC", "2026-12-15T00:00:00Z") == "2027-01-01T00:00:00Z");
    CHECK(next("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z") == "2026-03-31T00:00:00Z");
    CHECK(next("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z");
    CHECK(next("0 0 30 2 *", "UTC", "2026-03-01T00:00:00Z") == "never");
    CHECK(next("@yearly", "UTC", "2026-06-01T00:00:00Z") == "2027-01-01T00:00:00Z");
    CHECK(next("@weekly", "UTC", "2026-12-02T00:00:00Z") == "2026-12-06T00:00:00Z");
    CHECK(next("0 0 * * 7", "UTC", "2026-12-02T00:00:00Z") == "2026-12-06T00:00:00Z");
    CHECK(next("15 10 * * MON-FRI", "UTC", "2026-12-05T00:00:00Z") == "2026-12-07T10:15:00Z");
    // Both day fields restricted: the 13th or a Friday (Vixie cron).
    CHECK(next("0 12 13 * 5", "UTC", "2026-12-02T00:00:00Z") == "2026-12-04T12:00:00Z");
    // One of them `*`: both must match.
    CHECK(next("0 12 */2 * 5", "UTC", "2026-12-02T00:00:00Z") == "2026-12-11T12:00:00Z");
}

TEST_CASE("cron: Europe/Berlin spring forward runs a missing time at the end of the gap, once") {
    const char* z = "Europe/Berlin";
    CHECK(next("30 2 * * *", z, "2026-03-28T12:00:00Z") == "2026-03-29T01:00:00Z");
    CHECK(next("30 2 * * *", z, "2026-03-29T01:00:00Z") == "2026-03-30T00:30:00Z");
    CHECK(next("*/15 2 * * *", z, "2026-03-28T23:00:00Z") == "2026-03-29T01:00:00Z");
    CHECK(next("*/15 2 * * *", z, "2026-03-29T01:00:00Z") == "2026-03-30T00:00:00Z");
    CHECK(next("0 * * * *", z, "2026-03-29T00:00:00Z") == "2026-03-29T01:00:00Z");
    CHECK(next("0 * * * *", z, "2026-03-29T01:00:00Z") == "2026-03-29T02:00:00Z");
}

TEST_CASE("cron: Europe/Berlin fall back runs a repeated time once, at its first occurrence") {
    const char* z = "Europe/Berlin";
    CHECK(next("30 2 * * *", z, "2026-10-24T12:00:00Z") == "2026-10-25T00:30:00Z");
    CHECK(next("30 2 * * *", z, "2026-10-25T00:30:00Z") == "2026-10-26T01:30:00Z");
    CHECK(next("0 * * * *", z, "2026-10-25T00:00:00Z") == "2026-10-25T02:00:00Z");
    CHECK(next("0 * * * *", z, "2026-10-25T01:10:00Z") == "2026-10-25T02:00:00Z");
}

TEST_CASE("cron: America/New_York across both transitions") {
    const char* z = "America/New_York";
    CHECK(next("0 2 * * *", z, "2026-03-07T12:00:00Z") == "2026-03-08T07:00:00Z");
    CHECK(next("0 2 * * *", z, "2026-03-08T07:00:00Z") == "2026-03-09T06:00:00Z");
    CHECK(next("30 1 * * *", z, "2026-10-31T12:00:00Z") == "2026-11-01T05:30:00Z");
    CHECK(next("30 1 * * *", z, "2026-11-01T05:30:00Z") == "2026-11-02T06:30:00Z");
    CHECK(next("0 9 * * 1-5", z, "2026-03-06T15:00:00Z") == "2026-03-09T13:00:00Z");
}

TEST_CASE("cron: the latest slot of a downtime, not every missed one") {
    const auto* utc = find_time_zone("UTC");
    auto every10 = cron("*/10 * * * *");
    auto since = epoch("2026-12-01T20:00:00Z");
    CHECK(utc_text(*latest_slot(every10, utc, since, epoch("2026-12-02T01:44:10Z"))) ==
          "2026-12-02T01:40:00Z");
    CHECK(utc_text(*latest_slot(every10, utc, since, since)) == "2026-12-01T20:00:00Z");
    CHECK_FALSE(latest_slot(every10, utc, since + 1, since + 599));
    auto yearly = cron("@yearly");
    CHECK(utc_text(*latest_slot(yearly, utc, epoch("2020-01-01T00:00:00Z"),
                                epoch("2026-12-02T00:00:00Z"))) == "2026-01-01T00:00:00Z");
}

TEST_CASE("cron: time zone names are looked up in the tz database") {
    CHECK(find_time_zone("UTC") != nullptr);
    CHECK(find_time_zone("Europe/Berlin") != nullptr);
    CHECK(find_time_zone("America/New_York") != nullptr);
    CHECK(find_time_zone("Mars/Olympus_Mons") == nullptr);
    CHECK(find_time_zone("") == nullptr);
    CHECK(find_time_zone("../../etc/passwd") == nullptr);
}
