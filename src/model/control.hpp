#pragma once
// Actions on existing jobs (README "Controlling jobs"): on one job, on a list of ids, or on
// every job matching a filter.
#include <optional>
#include <string>
#include <vector>

#include "model/job.hpp"

namespace conveyor {

enum class JobAction { cancel, retry, remove };
const char* to_string(JobAction a); // "cancel", "retry", "delete"

// Bulk actions: at most this many ids per request, and this many jobs per transaction.
constexpr std::size_t kMaxBulkIds = 1000;
constexpr int kBulkBatch = 1000;

// Which jobs a bulk action by filter concerns; an empty list matches anything.
struct BulkFilter {
    std::vector<JobStatus> statuses;
    std::vector<std::string> queues, job_types;
};

// The jobs an action concerns: `ids`, or every job matching `filter`.
struct ActionTarget {
    std::vector<std::string> ids;
    std::optional<BulkFilter> filter;
};

} // namespace conveyor
