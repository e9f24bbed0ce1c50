#pragma once
// Plain data exchanged between actors and with the HTTP front end.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "event.hpp"
#include "http/request_parsing.hpp"
#include "job.hpp"

namespace conveyor {

struct HttpReply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Answers one HTTP request; callable from any thread, exactly once.
using Responder = std::function<void(HttpReply)>;

HttpReply error_reply(int status, const std::string& code, const std::string& message);

// HTTP → dispatcher: insert jobs (one for POST /jobs, many for /jobs/batch), then answer.
struct SubmitJobs {
    std::vector<NewJob> jobs;
    bool batch = false;
    Responder reply;
};

// HTTP → reader.
struct GetJob {
    std::string id;
    Responder reply;
};
struct ListJobs {
    ListQuery query;
    Responder reply;
};
struct CheckHealth {
    Responder reply;
};

// claimer → dispatcher: outcomes of attempts, to be written (batched: one message per claim
// cycle rather than one per job, which spares a thread wake-up per job).
struct AttemptsFinished {
    std::vector<AttemptResult> results;
};

// executor → claimer: the attempt is over; its slot is free and its result goes on to the
// dispatcher. When the attempt will be retried, `retry_in` says when, so this process claims it
// on time without waiting for a poll.
struct AttemptFinished {
    AttemptResult result;
    std::optional<std::chrono::milliseconds> retry_in;
};

// claimer → dispatcher at shutdown: return these attempts to pending, uncounted.
struct ReleaseJobs {
    std::vector<std::pair<std::string, int>> id_attempts;
};

// notifier → broadcaster: new events in id order. `window` marks the retained history loaded at
// start-up (kept for resume, not sent live).
struct EventBatch {
    std::vector<JobEvent> events;
    bool window = false;
};

// HTTP → broadcaster: a new GET /events stream.
struct Subscribe {
    std::shared_ptr<SseSink> sink;
    EventFilter filter;
    bool resume = false; // a Last-Event-ID was given
    std::uint64_t last_event_id = 0;
};

} // namespace conveyor

// None of these leave the process, so they need no serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::SubmitJobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::GetJob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ListJobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::CheckHealth)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::AttemptsFinished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::AttemptFinished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ReleaseJobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::EventBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::Subscribe)
