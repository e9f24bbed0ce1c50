#include "model/job.hpp"

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
    case JobStatus::cancelled:
        return "cancelled";
    }
    return "?";
}

std::optional<JobStatus> parse_job_status(const std::string& s) {
    for (auto st : kAllJobStatuses)
        if (s == to_string(st))
            return st;
    return std::nullopt;
}

std::string job_status_list() {
    std::string out;
    for (std::size_t i = 0; i < kAllJobStatuses.size(); ++i) {
        if (i)
            out += i + 1 == kAllJobStatuses.size() ? " or " : ", ";
        out += to_string(kAllJobStatuses[i]);
    }
    return out;
}

bool is_queue_name(const std::string& s) {
    auto plain = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (s.empty() || s.size() > 64 || !plain(s[0]))
        return false;
    for (char c : s)
        if (!plain(c) && c != '_' && c != '.' && c != '-')
            return false;
    return true;
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
