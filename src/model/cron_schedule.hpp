#pragma once
// When the slots of a cron expression fall, in an IANA time zone (SPEC §10). Times are UTC
// seconds since the epoch. The zone rules come from the system's tz database (Debian's tzdata)
// through Howard Hinnant's date library (libhowardhinnant-date-dev), the implementation C++20's
// <chrono> zones were standardised from: the arithmetic is in C++, so it is unit-tested and
// fuzzed without a database, and every process computes the same slots.
//
// Daylight saving: a local time that does not exist (inside a spring-forward gap) runs at the
// first instant after the gap; a local time that happens twice (fall back) runs once, at its
// first occurrence. Several slots falling on the same instant run once.
#include <cstdint>
#include <optional>
#include <string>

#include "model/cron.hpp"

namespace date {
class time_zone;
}

namespace conveyor {

// The zone of an IANA name ("Europe/Berlin", "UTC"); null when there is none of that name.
const date::time_zone* find_time_zone(const std::string& name);

// The first slot strictly after `after`; none when the expression matches no date within nine
// years (such as 30 February).
std::optional<std::int64_t> next_slot(const CronExpr& cron, const date::time_zone* zone,
                                      std::int64_t after);

// The latest slot in [since, until]; none when there is none.
std::optional<std::int64_t> latest_slot(const CronExpr& cron, const date::time_zone* zone,
                                        std::int64_t since, std::int64_t until);

// RFC 3339 UTC with seconds: "2026-03-29T01:00:00Z".
std::string utc_text(std::int64_t t);

} // namespace conveyor
