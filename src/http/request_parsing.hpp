#pragma once
// Pure parsing and validation of what clients send: no I/O, so it is unit-tested and fuzzed alone.
#include <map>

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "handlers/registry.hpp"
#include "model/control.hpp"
#include "model/event.hpp"
#include "model/query.hpp"

namespace conveyor {

struct ApiError {
    int status = 400;
    std::string code;
    std::string message;
};

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxBatch = 1000;

// POST /jobs body → one job.
std::variant<NewJob, ApiError> parse_submission(const std::string& body,
                                                const HandlerRegistry& registry);
// POST /jobs/batch body → 1..1000 jobs, all valid, or the first error naming its index.
std::variant<std::vector<NewJob>, ApiError> parse_batch(const std::string& body,
                                                        const HandlerRegistry& registry);

// PATCH /queues/<name> body: {"concurrency_limit": int >= 0 | null} → the new limit (nullopt:
// no limit).
std::variant<std::optional<int>, ApiError> parse_queue_patch(const std::string& body);

// The body of POST /jobs/cancel|retry|delete: {"ids": [...]} (1..kMaxBulkIds job ids) or
// {"filter": {"status"?, "queue"?, "job_type"?}} (each a string, comma lists allowed, or an
// array of strings; at least one key).
std::variant<ActionTarget, ApiError> parse_bulk_target(const std::string& body);

// An Idempotency-Key header value (SPEC §9): 1..kMaxIdempotencyKey printable ASCII characters,
// bare or as a structured-field string ("..." with \" and \\ escapes, as the IETF draft writes
// it) → the key; otherwise a 400 naming the header.
constexpr size_t kMaxIdempotencyKey = 255;
std::variant<std::string, ApiError> parse_idempotency_key(const std::string& value);

// RFC 3339 date-time with a time zone ("2026-11-26T05:02:39.123Z", "...+02:00").
bool is_rfc3339(const std::string& s);

std::string encode_cursor(const Cursor& c);
std::optional<Cursor> decode_cursor(const std::string& s);

std::variant<ListQuery, ApiError>
parse_list_query(const std::map<std::string, std::string>& params);
// The query string of the `next` link, for the given cursor.
std::string next_page_query(const ListQuery& q, const Cursor& next);

// GET /events query: job_id, job_type, status (comma lists); `access_token` is skipped here (the
// HTTP layer checks it).
std::variant<EventFilter, ApiError>
parse_event_query(const std::map<std::string, std::string>& params);
// A Last-Event-ID header value: a decimal event id.
std::optional<std::uint64_t> parse_last_event_id(const std::string& s);

std::string url_encode(const std::string& s);

// "Content-Type" accepted as JSON: application/json, optionally with parameters.
bool is_json_content_type(const std::string& value);

// For the parsers of other bodies (src/http/schedule_parsing.cpp): a body's JSON, refused when
// malformed or nested too deep; and one job object validated exactly as POST /jobs does it
// (`where` prefixes the messages, as in "job: ").
std::variant<nlohmann::json, ApiError> parse_json_body(const std::string& body);
std::variant<NewJob, ApiError> parse_job_object(const nlohmann::json& job,
                                                const HandlerRegistry& registry,
                                                const std::string& where);

} // namespace conveyor
