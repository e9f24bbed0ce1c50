#include "job.hpp"

namespace conveyor {

const char* to_string(JobStatus s) {
    switch (s) {
    case JobStatus::pending:
        return "pending";
    case JobStatus::processing:
        return "processing";
    case JobStatus::done:
        return "done";
    case JobStatus::failed:
        return "failed";
    }
    return "?";
}

std::optional<JobStatus> parse_job_status(const std::string& s) {
    for (auto st : {JobStatus::pending, JobStatus::processing, JobStatus::done, JobStatus::failed})
        if (s == to_string(st))
            return st;
    return std::nullopt;
}

const char* to_string(Outcome o) {
    switch (o) {
    case Outcome::success:
        return "success";
    case Outcome::transient:
        return "transient";
    case Outcome::permanent:
        return "permanent";
    }
    return "?";
}

} // namespace conveyor
