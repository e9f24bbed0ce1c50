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

// A submission as stored: its API JSON, or the unfinished job that already holds its unique_key
// (then with "duplicate":true in the JSON).
struct InsertedJob {
    std::string id;
    std::string json;
    bool duplicate = false;
};

// Jobs stored, in the order submitted.
struct Inserted {
    std::vector<InsertedJob> jobs;
    bool batch = false;    // POST /jobs/batch: answered as an array
    bool replayed = false; // the answer to an earlier request with the same Idempotency-Key
};

// One job or queue, rendered as API JSON.
struct Found {
    std::string json;
    bool replayed = false; // as in Inserted
};

// The request was taken and will complete later (a cancel reaching a running job): the job now.
struct Accepted {
    std::string json;
};

// The job is gone (DELETE).
struct Deleted {};

// Every item of a small collection (the queues), rendered as API JSON.
struct Listed {
    std::vector<std::string> items;
};

// A page of jobs, newest first; `next` is set when more exist.
struct Page {
    std::vector<std::string> jobs;
    ListQuery query;
    std::optional<Cursor> next;
};

// GET /healthz: whether the database answered, and whether this process is the maintainer.
struct Health {
    bool database_ok = true;
    bool leader = false;
};

// No such job (`kind` "job", `key` its id) or queue ("queue", its name).
struct NotFound {
    std::string kind;
    std::string key;
};

// The action does not fit the job's state.
struct Conflict {
    JobStatus status = JobStatus::pending;
    std::string message;
};

// The Idempotency-Key names another request (a different body, method or path), or the same
// request that is still running.
struct KeyConflict {
    bool in_flight = false;
};

// The database cannot be reached: nothing was done, the client may retry.
struct StoreUnavailable {};

// The database refused the request; the cause is in the server log.
struct StoreFailed {};

struct ShuttingDown {};

// Schedules (issue 13): PUT stored one, new (`created`) or replacing one.
struct ScheduleStored {
    std::string json;
    bool created = false;
};

using RequestOutcome =
    std::variant<Inserted, Found, Accepted, Deleted, Listed, Page, Health, NotFound, Conflict,
                 KeyConflict, StoreUnavailable, StoreFailed, ShuttingDown, ScheduleStored>;

// Answers one request; callable from any thread, exactly once.
using ReplyTo = std::function<void(RequestOutcome)>;

} // namespace conveyor
