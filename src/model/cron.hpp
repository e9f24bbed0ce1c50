#pragma once
// Five-field cron expressions (SPEC §10): `minute hour day-of-month month day-of-week`, each a
// comma list of `*`, `n`, `a-b`, with an optional `/step`; month and weekday names (JAN, MON);
// and the nicknames @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
// Parsing only: when a slot falls in a time zone is src/model/cron_schedule.hpp.
#include <bitset>
#include <string>
#include <variant>

namespace conveyor {

struct CronExpr {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month; // 1..31
    std::bitset<13> months;        // 1..12
    std::bitset<7> weekdays;       // 0..6, Sunday = 0 (7 is Sunday too)
    // The day fields as Vixie cron reads them: when both are restricted (neither starts with
    // `*`), a day matches if either does; otherwise both must.
    bool any_day_of_month = false;
    bool any_weekday = false;

    // Whether a local date is a day the expression runs on (weekday: 0 = Sunday).
    bool runs_on(unsigned month, unsigned day, unsigned weekday) const;
};

constexpr std::size_t kMaxCronLength = 256;

// The expression, or a message saying which field is wrong and why.
std::variant<CronExpr, std::string> parse_cron(const std::string& text);

} // namespace conveyor
