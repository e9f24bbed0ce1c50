#pragma once
// What the actors answer a request with, in domain terms. src/http/replies.cpp alone turns these
// into status codes, headers and bodies.
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/query.hpp"

namespace conveyor {

// Jobs stored, each rendered as API JSON, in the order submitted.
struct Inserted {
    std::vector<std::string> jobs;
    std::string first_id;
    bool batch = false; // POST /jobs/batch: answered as an array
};

// One job, rendered as API JSON.
struct Found {
    std::string job;
};

// A page of jobs, newest first; `next` is set when more exist.
struct Page {
    std::vector<std::string> jobs;
    ListQuery query;
    std::optional<Cursor> next;
};

// GET /healthz: whether the database answered.
struct Health {
    bool database_ok = true;
};

struct NotFound {
    std::string id;
};

// The action does not fit the job's state.
struct Conflict {
    JobStatus status = JobStatus::pending;
    std::string message;
};

// The database cannot be reached: nothing was done, the client may retry.
struct StoreUnavailable {};

// The database refused the request; the cause is in the server log.
struct StoreFailed {};

struct ShuttingDown {};

using RequestOutcome = std::variant<Inserted, Found, Page, Health, NotFound, Conflict,
                                    StoreUnavailable, StoreFailed, ShuttingDown>;

// Answers one request; callable from any thread, exactly once.
using ReplyTo = std::function<void(RequestOutcome)>;

} // namespace conveyor
