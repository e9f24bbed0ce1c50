#pragma once
// A job status change as GET /events sends it, and the filters a subscriber can set.
#include <cstdint>
#include <set>
#include <string>

#include "model/job.hpp"

namespace conveyor {

struct JobEvent {
    std::uint64_t id = 0;
    std::string job_id, job_type, queue;
    JobStatus status = JobStatus::pending;
    std::string frame; // the whole SSE frame: "id: ..\nevent: job|deleted\ndata: {..}\n\n"
};

// `kind`: "job" for a status change, "deleted" for a deleted job (data: its last state).
std::string sse_frame(std::uint64_t id, const std::string& data, const std::string& kind = "job");

// Query filters of GET /events; an empty set matches everything.
struct EventFilter {
    std::set<std::string> job_ids, job_types, queues;
    std::set<JobStatus> statuses;
    bool empty() const {
        return job_ids.empty() && job_types.empty() && queues.empty() && statuses.empty();
    }
    bool matches(const JobEvent& e) const {
        return (job_ids.empty() || job_ids.count(e.job_id)) &&
               (job_types.empty() || job_types.count(e.job_type)) &&
               (queues.empty() || queues.count(e.queue)) &&
               (statuses.empty() || statuses.count(e.status));
    }
};

} // namespace conveyor
