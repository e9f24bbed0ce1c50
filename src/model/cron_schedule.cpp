#include "model/cron_schedule.hpp"

#include <date/tz.h>

namespace conveyor {

namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr int kSearchDays = 366 * 9; // every date pattern (29 February included) recurs by then

// The instant a local time runs at, by the daylight-saving rules above.
std::int64_t instant_of(const date::time_zone* zone, date::local_seconds local) {
    auto info = zone->get_info(local);
    if (info.result == date::local_info::nonexistent)
        return info.second.begin.time_since_epoch().count();
    // Unique, or ambiguous: `first` is the offset in force before the transition, so this is
    // the first occurrence.
    return (local - info.first.offset).time_since_epoch().count();
}

} // namespace

const date::time_zone* find_time_zone(const std::string& name) {
    if (name.empty() || name.size() > 64)
        return nullptr;
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return nullptr;
    }
}

std::optional<std::int64_t> next_slot(const CronExpr& cron, const date::time_zone* zone,
                                      std::int64_t after) {
    // Local times map to instants in order (a gap's times all map to its end; a repeated hour's
    // to its first pass), so walking local minutes forward from the local time of `after` finds
    // the first slot after it.
    auto start = date::floor<minutes>(zone->to_local(date::sys_seconds(seconds(after))));
    auto first_day = date::floor<date::days>(start);
    for (int d = 0; d < kSearchDays; ++d) {
        auto day = first_day + date::days(d);
        date::year_month_day ymd(day);
        unsigned weekday = date::weekday(day).c_encoding();
        if (!cron.runs_on(static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                          weekday))
            continue;
        for (int h = 0; h < 24; ++h) {
            if (!cron.hours.test(static_cast<size_t>(h)))
                continue;
            for (int m = 0; m < 60; ++m) {
                if (!cron.minutes.test(static_cast<size_t>(m)))
                    continue;
                auto local = day + std::chrono::hours(h) + minutes(m);
                if (local < start)
                    continue;
                auto t = instant_of(zone, date::local_seconds(local));
                if (t > after)
                    return t;
            }
        }
    }
    return std::nullopt;
}

std::optional<std::int64_t> latest_slot(const CronExpr& cron, const date::time_zone* zone,
                                        std::int64_t since, std::int64_t until) {
    if (since > until)
        return std::nullopt;
    // Walk forward from a window before `until`, widened until a slot is found or it reaches
    // `since`: a frequent expression is answered from the last hour, a rare one from years back
    // in a few steps, never by walking every slot of a long downtime.
    const std::int64_t windows[] = {3600, 86400, 40 * 86400LL, 400 * 86400LL,
                                    static_cast<std::int64_t>(kSearchDays) * 86400};
    for (auto w : windows) {
        std::int64_t from = std::max(since, until - w);
        std::optional<std::int64_t> last;
        for (auto s = next_slot(cron, zone, from - 1); s && *s <= until;
             s = next_slot(cron, zone, *s))
            last = s;
        if (last || from == since)
            return last;
    }
    return std::nullopt;
}

std::string utc_text(std::int64_t t) {
    return date::format("%FT%TZ", date::sys_seconds(seconds(t)));
}

} // namespace conveyor
