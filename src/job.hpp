#pragma once
// The job model: status enum and the plain data that moves between actors.
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

enum class JobStatus { pending, processing, done, failed };

const char* to_string(JobStatus s);
std::optional<JobStatus> parse_job_status(const std::string& s);

// A validated submission, ready to insert. `payload` is serialized JSON (an object).
struct NewJob {
    std::string id; // generated before insert (UUIDv7)
    std::string job_type;
    std::string payload;
    int max_attempts = 3;
    std::optional<std::string> run_at; // RFC 3339, validated
};

// A job claimed by this process, as the claimer hands it to an executor.
struct ClaimedJob {
    std::string id;
    std::string job_type;
    std::string payload;
    int attempt = 0; // attempts after the claim: identifies this attempt
    int max_attempts = 0;
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

// The result of one attempt, written by the dispatcher.
struct AttemptResult {
    std::string id;
    int attempt = 0;
    HandlerResult result;
};

} // namespace conveyor
