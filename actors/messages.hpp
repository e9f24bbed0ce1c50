#pragma once
// Plain data exchanged between actors and with the HTTP front end. Nothing here knows HTTP: a
// request carries a ReplyTo, which the front end turns into a response (src/http/replies.cpp).
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/sse_sink.hpp"
#include "model/control.hpp"
#include "model/event.hpp"
#include "model/job.hpp"
#include "model/outcome.hpp"

namespace conveyor {

// --- Writer commands: every write of job state except claims. Commands that reach the writer
// together share one transaction; each kind is written as one statement for the whole group.

// Insert jobs (one for POST /jobs, many for /jobs/batch), then answer Inserted.
struct InsertJobs {
    std::vector<NewJob> jobs;
    bool batch = false;
    ReplyTo reply;
    std::vector<InsertedJob> rendered; // filled by the writer
};

// Record the outcomes of finished attempts (batched: one command per claim cycle), then wake the
// claimers of `wake`: queues where a retry is now pending, or where a job of a queue with a
// global limit freed a unit another process may be waiting for. Successes in other queues, the
// hot path, wake nobody.
struct RecordResults {
    std::vector<AttemptResult> results;
    std::set<std::string> wake;
};

// Return running attempts to pending, uncounted (shutdown after the grace period).
struct ReleaseAttempts {
    std::vector<AttemptRef> attempts;
};

// Create or change a queue: pause or resume it, set or clear its global concurrency limit. Answers
// Found with the queue.
struct UpdateQueue {
    std::string name;
    std::optional<bool> paused; // true: pause, false: resume, none: leave
    bool set_limit = false;
    std::optional<int> limit; // with set_limit: the new concurrency_limit (none: no limit)
    ReplyTo reply;
    std::string rendered; // filled by the writer: the queue as API JSON
};

using WriteCommand = std::variant<InsertJobs, RecordResults, ReleaseAttempts, UpdateQueue>;

// --- Actions on existing jobs, by the controller.
struct ChangeJob {
    JobAction action = JobAction::cancel;
    std::string id;
    ReplyTo reply;
};
struct ChangeJobs {
    JobAction action = JobAction::cancel;
    ActionTarget target;
    ReplyTo reply;
};

// --- Requests with an Idempotency-Key (README "Idempotency keys"), through the idempotency
// keeper: the request as it would go to the writer (InsertJobs) or the controller (ChangeJobs).
struct IdempotentRequest {
    std::string key;
    std::string fingerprint;
    std::variant<InsertJobs, ChangeJobs> request;
};
// writer or controller → keeper: the request taken with `token` was answered; record the
// answer for repeats, then give it to `reply`.
struct KeyAnswered {
    std::string key;
    std::string token;
    RequestOutcome outcome;
    ReplyTo reply;
};

// --- Reads, answered by a reader.
struct GetJob {
    std::string id;
    ReplyTo reply;
};
struct ListJobs {
    ListQuery query;
    ReplyTo reply;
};
struct CheckHealth {
    ReplyTo reply;
};
// GET /queues (no name) and GET /queues/<name>.
struct GetQueues {
    std::optional<std::string> name;
    ReplyTo reply;
};

// executor → claimer: the attempt is over; its slot is free and its result goes on to the
// writer. When the attempt will be retried, `retry_in` says when, so this process claims it on
// time without waiting for a poll.
struct AttemptFinished {
    AttemptResult result;
    std::optional<std::chrono::milliseconds> retry_in;
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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::WriteCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::GetJob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ListJobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::CheckHealth)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::GetQueues)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::AttemptFinished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ChangeJob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ChangeJobs)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::IdempotentRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::KeyAnswered)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::EventBatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::Subscribe)
