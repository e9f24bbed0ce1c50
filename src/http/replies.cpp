#include "http/replies.hpp"

#include "http/request_parsing.hpp"
#include "json_util.hpp"

namespace conveyor {

namespace {

std::string json_array(const std::vector<std::string>& items) {
    std::size_t size = 2;
    for (const auto& s : items)
        size += s.size() + 1;
    std::string body;
    body.reserve(size);
    body += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            body += ',';
        body += items[i];
    }
    body += ']';
    return body;
}

HttpReply unavailable(const std::string& code, const std::string& message) {
    auto r = error_reply(503, code, message);
    r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterS));
    return r;
}

// Tells the client (and its logs) that nothing ran again: the answer is to an earlier request.
HttpReply replayed(HttpReply r, bool replayed) {
    if (replayed)
        r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
}

struct ToHttp {
    HttpReply operator()(Inserted& m) const {
        if (m.batch) {
            std::vector<std::string> items;
            for (auto& j : m.jobs)
                items.push_back(std::move(j.json));
            return replayed({201, json_array(items), {}}, m.replayed);
        }
        auto& job = m.jobs.front();
        return replayed(
            {job.duplicate ? 200 : 201, std::move(job.json), {{"Location", "/jobs/" + job.id}}},
            m.replayed);
    }
    HttpReply operator()(Found& m) const {
        return replayed({200, std::move(m.json), {}}, m.replayed);
    }
    HttpReply operator()(Accepted& m) const { return {202, std::move(m.json), {}}; }
    HttpReply operator()(Deleted&) const { return {204, "", {}}; }
    HttpReply operator()(Listed& m) const { return {200, json_array(m.items), {}}; }
    HttpReply operator()(Page& m) const {
        HttpReply r{200, json_array(m.jobs), {}};
        if (m.next)
            r.headers.emplace_back("Link", "</jobs?" + next_page_query(m.query, *m.next) +
                                               ">; rel=\"next\"");
        return r;
    }
    HttpReply operator()(Health& m) const {
        if (m.database_ok)
            return {200,
                    std::string(R"({"status":"ok","database":"ok","leader":)") +
                        (m.leader ? "true}" : "false}"),
                    {}};
        auto r = (*this)(StoreUnavailable{});
        r.body = R"({"status":"unavailable","database":"unreachable",)" + r.body.substr(1);
        return r;
    }
    HttpReply operator()(NotFound& m) const {
        if (m.kind == "job")
            return error_reply(404, "not_found", "no job with id " + m.key);
        return error_reply(404, "not_found", "no " + m.kind + " named '" + m.key + "'");
    }
    HttpReply operator()(Conflict& m) const {
        nlohmann::json body = {{"error", {{"code", "conflict"}, {"message", m.message}}},
                               {"status", to_string(m.status)}};
        return {409, body.dump(), {}};
    }
    HttpReply operator()(KeyConflict& m) const {
        if (!m.in_flight)
            return error_reply(422, "idempotency_key_reused",
                               "this Idempotency-Key was used for a different request (method, "
                               "path or body); use a new key");
        auto r = error_reply(409, "idempotency_key_in_flight",
                             "a request with this Idempotency-Key is still being processed; "
                             "repeat it in a moment");
        r.headers.emplace_back("Retry-After", std::to_string(kRetryAfterS));
        return r;
    }
    HttpReply operator()(StoreUnavailable) const {
        return unavailable("database_unavailable", "the database is not reachable; retry later");
    }
    HttpReply operator()(StoreFailed&) const {
        return error_reply(500, "internal_error", "the request failed; see the server log");
    }
    HttpReply operator()(ScheduleStored& m) const {
        return {m.created ? 201 : 200, std::move(m.json), {}};
    }
    HttpReply operator()(ShuttingDown&) const {
        return unavailable("shutting_down",
                           "the server is shutting down; retry on another instance");
    }
};

} // namespace

HttpReply to_http(RequestOutcome outcome) {
    auto reply = std::visit(ToHttp{}, outcome);
    // Jobs and queues are rendered by PostgreSQL, which spaces its JSON.
    reply.body = compact_json(std::move(reply.body));
    return reply;
}

HttpReply error_reply(int status, const std::string& code, const std::string& message) {
    return HttpReply{status, error_body(code, message), {}};
}

} // namespace conveyor
