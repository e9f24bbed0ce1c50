#pragma once
// What GET /jobs asks for and where a page ends, free of how the HTTP layer spells them.
#include <optional>
#include <string>
#include <vector>

#include "model/job.hpp"

namespace conveyor {

// Keyset position in the newest-first job list: created_at in microseconds since the epoch, then
// id.
struct Cursor {
    long long created_us = 0;
    std::string id;
};

// A page of GET /jobs ends once its jobs hold this many bytes (of JSON), whatever the limit, so
// that 1,000 jobs of 1 MiB payloads make 8 pages, not a 1 GiB answer. A page holds at least one
// job.
constexpr long long kMaxPageBytes = 8 * 1024 * 1024;

struct ListQuery {
    std::vector<JobStatus> statuses;       // empty: any
    std::vector<std::string> job_types;    // empty: any
    std::vector<std::string> queues;       // empty: any
    std::optional<std::string> unique_key; // one key, exactly
    int limit = 100;
    std::optional<Cursor> cursor;
};

} // namespace conveyor
