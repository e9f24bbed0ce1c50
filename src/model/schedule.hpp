#pragma once
// A cron schedule as PUT /schedules/<name> defines it (SPEC §4, §10), validated.
#include <string>

namespace conveyor {

struct ScheduleSpec {
    std::string name;     // a queue-name-like identifier
    std::string cron;     // as given; parses (model/cron.hpp) and runs at least once
    std::string timezone; // an IANA name the tz database knows
    std::string job;      // JSON as POST /jobs takes it, defaults explicit (no run_at)
    bool enabled = true;
};

} // namespace conveyor
