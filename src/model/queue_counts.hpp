#pragma once
// What one queue holds: jobs by status and how long its oldest due pending job has waited.
#include <string>

namespace conveyor {

struct QueueCounts {
    std::string queue;
    long long pending = 0, processing = 0, done = 0, failed = 0, cancelled = 0;
    double oldest_pending_age_s = 0; // 0: nothing due is waiting
};

} // namespace conveyor
