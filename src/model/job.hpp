#pragma once
// The job model: statuses, what is submitted, what is claimed, what an attempt returns.
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

// `cancelled` is terminal, like `done` and `failed`.
enum class JobStatus { pending, processing, done, failed, cancelled };

constexpr std::array<JobStatus, 5> kAllJobStatuses = {JobStatus::pending, JobStatus::processing,
                                                      JobStatus::done, JobStatus::failed,
                                                      JobStatus::cancelled};

const char* to_string(JobStatus s);
std::optional<JobStatus> parse_job_status(const std::string& s);
// "pending, processing, done, failed or cancelled": for messages listing the valid values.
std::string job_status_list();

// A validated submission, ready to insert. `payload` is serialized JSON (an object).
struct NewJob {
    std::string id; // generated before insert (UUIDv7)
    std::string job_type;
    std::string queue = "default";
    int priority = 0; // 0..9, lower runs first
    std::string payload;
    int max_attempts = 3;
    std::optional<std::string> run_at; // RFC 3339, validated
    // At most one unfinished job of the queue holds a key (README "Unique keys").
    std::optional<std::string> unique_key;
};

// Longest unique_key accepted.
constexpr std::size_t kMaxKeyLength = 255;

// A queue name: [a-z0-9][a-z0-9_.-]{0,63} (also checked by the database).
bool is_queue_name(const std::string& s);

// One attempt of one job: the attempt number tells a late result from the current attempt's.
struct AttemptRef {
    std::string id;
    int attempt = 0;
    bool operator==(const AttemptRef& o) const { return attempt == o.attempt && id == o.id; }
};

// A job claimed by this process, as the claimer hands it to an executor.
struct ClaimedJob {
    std::string id;
    std::string job_type;
    std::string queue;
    std::string payload;
    int attempt = 0; // attempts after the claim: identifies this attempt
    int max_attempts = 0;
    double wait_s = 0; // from scheduled_at to the claim (conveyor_job_wait_seconds)
};

enum class Outcome { success, transient, permanent };
const char* to_string(Outcome o);

// What a handler returns.
struct HandlerResult {
    Outcome outcome = Outcome::success;
    std::string message; // becomes last_error on failure

    static HandlerResult ok() { return {Outcome::success, {}}; }
    static HandlerResult retry(std::string m) { return {Outcome::transient, std::move(m)}; }
    static HandlerResult fail(std::string m) { return {Outcome::permanent, std::move(m)}; }
};

// The result of one attempt, written by the writer.
struct AttemptResult {
    AttemptRef attempt;
    HandlerResult result;
};

} // namespace conveyor
