#pragma once
// What one queue holds: jobs by status, how long its oldest due pending job has waited, and how
// many running jobs were asked to stop and have not yet.
#include <string>

namespace conveyor {

struct QueueCounts {
    std::string queue;
    long long pending = 0, processing = 0, done = 0, failed = 0, cancelled = 0;
    double oldest_pending_age_s = 0; // 0: nothing due is waiting
    long long cancel_requested = 0;  // processing, asked to stop, not stopped yet
};

} // namespace conveyor
