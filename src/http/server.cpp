#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <stdexcept>

#include <caf/send.hpp>
#include <restinio/all.hpp>

#include "http/body_limit.hpp"
#include "http/connection_watch.hpp"
#include "http/cors.hpp"
#include "http/fingerprint.hpp"
#include "http/replies.hpp"
#include "http/request_parsing.hpp"
#include "http/schedule_parsing.hpp"
#include "http/watch_routes.hpp"
#include "json_util.hpp"
#include "log.hpp"
#include "uuid.hpp"

namespace conveyor {

namespace {

using router_t = restinio::router::express_router_t<>;
struct traits_t : public restinio::default_traits_t {
    using request_handler_t = router_t;
    using http_methods_mapper_t = http_methods; // our body limit (http/body_limit.hpp)
    static constexpr bool use_connection_count_limiter = true; // MAX_CONNECTIONS
    using connection_state_listener_t = ConnectionWatch;
};
using connection_t = restinio::impl::connection_t<traits_t>;

// RESTinio can close a connection only gracefully, after what is queued for it (up to
// kMaxPendingBytes of a stalled SSE stream, for up to a write timeout). Aborting one needs its
// socket, a private member: explicit instantiation may name it (C++17 [temp.explicit]/14), and
// this gives us its member pointer.
struct connection_socket {
    using type = traits_t::stream_socket_t connection_t::*;
    friend type socket_member(connection_socket);
};
template <typename Tag, typename Tag::type Member> struct expose_member {
    friend typename Tag::type socket_member(Tag) { return Member; }
};
template struct expose_member<connection_socket, &connection_t::m_socket>;
using request_t = restinio::request_handle_t;

const char* reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 409:
        return "Conflict";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

// CORS_ALLOWED_ORIGINS, set once by HttpServer::start before it serves (one server per process).
const CorsPolicy* cors_policy = nullptr;

// The CORS headers for the request's Origin (none when CORS is off or the origin not allowed).
std::vector<std::pair<std::string, std::string>> cors_for(const request_t& req) {
    if (!cors_policy || !cors_policy->enabled())
        return {};
    auto origin = req->header().opt_value_of(restinio::http_field::origin);
    if (!origin)
        return {};
    auto allowed = cors_allow_origin(*cors_policy, std::string(origin->data(), origin->size()));
    return allowed ? cors_headers(*cors_policy, *allowed)
                   : std::vector<std::pair<std::string, std::string>>{};
}

// Set on the GET twin of a HEAD request (see Impl::unmatched): its answer keeps the headers and
// drops the body. No client can send it, since a field name cannot hold ':'.
const char* const kHeadRequest = ":conveyor-head";

bool is_head(const request_t& req) {
    return req->header().has_field(kHeadRequest);
}

restinio::http_status_line_t status_line(int status) {
    return restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, reason(status)};
}

// A HEAD answer: the GET answer's headers and Content-Length, no body (RFC 9110 §9.3.2).
void send_head_reply(const request_t& req, const HttpReply& r, const char* content_type) {
    auto resp =
        req->template create_response<restinio::user_controlled_output_t>(status_line(r.status));
    resp.append_header(restinio::http_field::content_type, content_type);
    for (auto& [name, value] : r.headers)
        resp.append_header(name, value);
    resp.set_content_length(r.body.size());
    resp.done();
}

void send_reply(const request_t& req, HttpReply r) {
    if (is_head(req))
        return send_head_reply(req, r, "application/json");
    auto resp = req->create_response(status_line(r.status));
    // The rest of a too large body may still be coming: the connection cannot be reused.
    if (r.status == 413 || req->header().has_field(kBodyTooLarge))
        resp.connection_close();
    bool typed = r.status == 204; // no body, no type
    for (const auto& h : r.headers)
        typed = typed || restinio::impl::is_equal_caseless(h.first, "Content-Type");
    if (!typed)
        resp.append_header(restinio::http_field::content_type, "application/json");
    for (auto& [name, value] : r.headers)
        resp.append_header(name, value);
    for (auto& [name, value] : cors_for(req))
        resp.append_header(name, value);
    resp.set_body(std::move(r.body));
    resp.done();
}

ReplyTo reply_to(request_t req) {
    return [req = std::move(req)](RequestOutcome o) { send_reply(req, to_http(std::move(o))); };
}

restinio::request_handling_status_t answer(const request_t& req, HttpReply r) {
    send_reply(req, std::move(r));
    return restinio::request_accepted();
}

restinio::request_handling_status_t
answer_error(const request_t& req, int status, const std::string& code, const std::string& message,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpReply r = error_reply(status, code, message);
    r.headers = std::move(headers);
    return answer(req, std::move(r));
}

// Compares in time independent of where the strings first differ.
bool constant_time_equal(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() ? b.size() : 1)]);
    return diff == 0;
}

// True when `pattern` (express syntax) matches `path`; `literals` counts the fixed segments,
// so that /jobs/batch is found as itself rather than as /jobs/:id.
bool pattern_matches(const std::string& pattern, const std::string& path, int& literals) {
    literals = 0;
    std::size_t p = 0, q = 0;
    while (p < pattern.size() && q < path.size()) {
        if (pattern[p] != '/' || path[q] != '/')
            return false;
        auto pe = pattern.find('/', p + 1), qe = path.find('/', q + 1);
        auto seg = pattern.substr(p + 1, pe == std::string::npos ? std::string::npos : pe - p - 1);
        auto got = path.substr(q + 1, qe == std::string::npos ? std::string::npos : qe - q - 1);
        if (!seg.empty() && seg[0] == ':') {
            if (got.empty())
                return false;
        } else if (seg != got) {
            return false;
        } else {
            ++literals;
        }
        p = pe == std::string::npos ? pattern.size() : pe;
        q = qe == std::string::npos ? path.size() : qe;
    }
    return p == pattern.size() && q == path.size();
}

restinio::http_method_id_t method_id(const std::string& m) {
    if (m == "GET")
        return restinio::http_method_get();
    if (m == "POST")
        return restinio::http_method_post();
    if (m == "PUT")
        return restinio::http_method_put();
    if (m == "PATCH")
        return restinio::http_method_patch();
    if (m == "DELETE")
        return restinio::http_method_delete();
    if (m == "HEAD")
        return restinio::http_method_head();
    if (m == "OPTIONS")
        return restinio::http_method_options();
    throw std::logic_error("route table: unsupported method " + m);
}

std::string param(const restinio::router::route_params_t& p, const char* name) {
    return restinio::cast_to<std::string>(p[name]);
}

// One open GET /events response, written only by the broadcaster.
class RestinioSseSink final : public SseSink {
  public:
    using builder_t = restinio::response_builder_t<restinio::chunked_output_t>;
    RestinioSseSink(builder_t resp, restinio::impl::connection_handle_t connection)
        : resp_(std::move(resp)), connection_(std::move(connection)),
          state_(std::make_shared<State>()) {}
    ~RestinioSseSink() override { close(); }

    using SseSink::write;
    void write(std::shared_ptr<std::string> bytes) override {
        if (closed_)
            return;
        auto n = bytes->size();
        state_->pending += n;
        resp_.append_chunk(std::move(bytes));
        resp_.flush([st = state_, n](const asio::error_code& ec) {
            st->pending -= n;
            if (ec)
                st->failed = true;
        });
    }
    std::size_t pending_bytes() const override { return state_->pending; }
    bool failed() const override { return state_->failed; }
    void close() override {
        if (closed_)
            return;
        closed_ = true;
        resp_.done();
    }
    void abort() override {
        if (closed_)
            return;
        closed_ = true;
        // On the connection's own executor, where its socket may be touched. Shutting the socket
        // down fails the connection's pending read and write, so RESTinio closes it, and with
        // SO_LINGER 0 that close is a reset that discards what is queued.
        auto conn = std::static_pointer_cast<connection_t>(connection_);
        asio::post(conn->get_executor(), [conn] {
            auto& socket = (*conn).*socket_member(connection_socket{});
            if (!socket.is_open())
                return;
            asio::error_code ignored;
            socket.set_option(asio::socket_base::linger(true, 0), ignored);
            socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        });
    }

    // Shared with flush callbacks and the connection watch, which may outlive the sink.
    struct State {
        std::atomic<std::size_t> pending{0};
        std::atomic<bool> failed{false};
    };
    const std::shared_ptr<State>& state() const { return state_; }

  private:
    builder_t resp_;
    restinio::impl::connection_handle_t connection_;
    std::shared_ptr<State> state_;
    bool closed_ = false;
};

} // namespace

struct HttpServer::Impl {
    std::shared_ptr<const Config> config;
    const Config& cfg;
    const HandlerRegistry& registry;
    writer_actor writer;
    controller_actor controller;
    idempotency_keeper_actor keeper;
    std::vector<reader_actor> readers;
    sse_broadcaster_actor broadcaster;
    std::shared_ptr<std::atomic<int>> subscribers;
    std::atomic<size_t> next_reader{0};
    std::atomic<bool> draining{false};
    std::atomic<int> bound_port{0};
    restinio::running_server_handle_t<traits_t> server;
    scheduler_actor scheduler;       // /schedules (issue 13)
    router_t* head_router = nullptr; // owned by `server`; HEAD requests go through it again
    std::shared_ptr<ConnectionWatch> watch = std::make_shared<ConnectionWatch>();

    Impl(std::shared_ptr<const Config> c, const HandlerRegistry& r, writer_actor w,
         controller_actor ctl, std::vector<reader_actor> rs, sse_broadcaster_actor b,
         std::shared_ptr<std::atomic<int>> subs)
        : config(std::move(c)), cfg(*config), registry(r), writer(std::move(w)),
          controller(std::move(ctl)), readers(std::move(rs)), broadcaster(std::move(b)),
          subscribers(std::move(subs)) {}

    const reader_actor& reader() { return readers[next_reader++ % readers.size()]; }

    // Answers 401 (no or wrong token) or 403 (API_READ_TOKEN on a `write` route) and returns
    // false when the request may not go on. Tokens are compared in constant time and never
    // logged.
    bool authorize(const request_t& req, Access access) {
        if (access == Access::open || cfg.api_token.empty())
            return true;
        auto value = req->header().opt_value_of(restinio::http_field::authorization);
        std::string given = value ? std::string(value->data(), value->size()) : std::string();
        // The scheme is case-insensitive (RFC 7235 §2.1); the token is not.
        const std::string scheme = "bearer ";
        bool bearer = given.size() >= scheme.size();
        for (size_t i = 0; bearer && i < scheme.size(); ++i)
            bearer = std::tolower(static_cast<unsigned char>(given[i])) == scheme[i];
        given = bearer ? given.substr(scheme.size()) : std::string();
        std::optional<std::string> query_token;
        if (access == Access::stream)
            if (auto qs = restinio::try_parse_query<restinio::parse_query_traits::relaxed>(
                    req->header().query()))
                if (qs->has("access_token"))
                    query_token = restinio::cast_to<std::string>((*qs)["access_token"]);
        auto matches = [&](const std::string& token) {
            return !token.empty() && (constant_time_equal(given, token) ||
                                      (query_token && constant_time_equal(*query_token, token)));
        };
        if (matches(cfg.api_token))
            return true;
        if (matches(cfg.api_read_token)) {
            if (access != Access::write)
                return true;
            answer_error(req, 403, "read_only_token",
                         "API_READ_TOKEN may only read; " +
                             std::string(req->header().method().c_str()) + " " +
                             std::string(req->header().path()) + " changes state");
            return false;
        }
        answer_error(req, 401, "unauthorized", "missing or wrong bearer token",
                     {{"WWW-Authenticate", "Bearer realm=\"conveyor\""}});
        return false;
    }

    // For a handler that checks for itself (the table's wrapper has already checked it): a safe
    // method reads, anything else writes.
    bool authorized(const request_t& req) {
        auto m = req->header().method();
        return authorize(req, m == restinio::http_method_get() || m == restinio::http_method_head()
                                  ? Access::read
                                  : Access::write);
    }

    // Common checks of a write; returns false after answering when the request is refused.
    bool acceptable_write(const request_t& req) {
        // Also checked here so that a write handler stays guarded if registered by hand.
        if (!authorize(req, Access::write))
            return false;
        if (draining) {
            answer(req, to_http(ShuttingDown{}));
            return false;
        }
        return true;
    }

    // Common checks of a JSON POST or PATCH; returns false after answering when refused.
    bool acceptable_post(const request_t& req) {
        if (!acceptable_write(req))
            return false;
        if (req->header().has_field(kBodyTooLarge) ||
            req->body().size() > static_cast<size_t>(cfg.max_body_bytes)) {
            answer_error(req, 413, "body_too_large",
                         "request body exceeds MAX_BODY_BYTES=" +
                             std::to_string(cfg.max_body_bytes));
            return false;
        }
        auto ct = req->header().opt_value_of(restinio::http_field::content_type);
        if (!ct || !is_json_content_type(std::string(ct->data(), ct->size()))) {
            answer_error(req, 415, "unsupported_media_type",
                         "Content-Type must be application/json");
            return false;
        }
        return true;
    }

    restinio::request_handling_status_t post_job(const request_t& req) {
        if (!acceptable_post(req))
            return restinio::request_accepted();
        auto parsed = parse_submission(req->body(), registry);
        if (auto* e = std::get_if<ApiError>(&parsed))
            return answer_error(req, e->status, e->code, e->message);
        InsertJobs insert;
        insert.jobs.push_back(std::move(std::get<NewJob>(parsed)));
        insert.reply = reply_to(req);
        return submit(req, std::move(insert));
    }

    // With an Idempotency-Key the request goes through the keeper, which runs it at most once;
    // answers 400 for a malformed key. Returns nothing when there is no key.
    template <typename Request>
    std::optional<restinio::request_handling_status_t> through_keeper(const request_t& req,
                                                                      Request& request) {
        auto value = req->header().opt_value_of("Idempotency-Key");
        if (!value)
            return std::nullopt;
        auto key = parse_idempotency_key(std::string(value->data(), value->size()));
        if (auto* e = std::get_if<ApiError>(&key))
            return answer_error(req, e->status, e->code, e->message);
        IdempotentRequest m{std::move(std::get<std::string>(key)),
                            request_fingerprint(req->header().method().c_str(),
                                                std::string(req->header().path()), req->body()),
                            std::move(request)};
        caf::anon_send(keeper, std::move(m));
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t submit(const request_t& req, InsertJobs insert) {
        if (auto handled = through_keeper(req, insert))
            return *handled;
        caf::anon_send(writer, WriteCommand{std::move(insert)});
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t post_batch(const request_t& req) {
        if (!acceptable_post(req))
            return restinio::request_accepted();
        auto parsed = parse_batch(req->body(), registry);
        if (auto* e = std::get_if<ApiError>(&parsed))
            return answer_error(req, e->status, e->code, e->message);
        return submit(
            req,
            InsertJobs{std::move(std::get<std::vector<NewJob>>(parsed)), true, reply_to(req), {}});
    }

    // Decodes the query string; answers 400 and returns nothing when it is malformed.
    std::optional<std::map<std::string, std::string>> query_params(const request_t& req) {
        auto qs =
            restinio::try_parse_query<restinio::parse_query_traits::relaxed>(req->header().query());
        if (!qs) {
            answer_error(req, 400, "invalid_query", "query string is malformed");
            return std::nullopt;
        }
        std::map<std::string, std::string> params;
        for (const auto& [k, v] : *qs) {
            std::string key(k.data(), k.size());
            // libpq takes parameters as C strings: a NUL would silently cut the value short.
            if (key.find('\0') != std::string::npos ||
                v.find('\0') != restinio::string_view_t::npos) {
                answer_error(req, 400, "invalid_query",
                             "query parameters must not contain NUL (%00)");
                return std::nullopt;
            }
            if (params.count(key)) {
                answer_error(req, 400, "invalid_query", "parameter '" + key + "' given twice");
                return std::nullopt;
            }
            params[key] = std::string(v.data(), v.size());
        }
        return params;
    }

    restinio::request_handling_status_t events(const request_t& req) {
        auto params = query_params(req);
        if (!params)
            return restinio::request_accepted();
        auto filter = parse_event_query(*params);
        if (auto* e = std::get_if<ApiError>(&filter))
            return answer_error(req, e->status, e->code, e->message);
        Subscribe sub;
        sub.filter = std::move(std::get<EventFilter>(filter));
        if (auto last = req->header().opt_value_of("Last-Event-ID")) {
            auto id = parse_last_event_id(std::string(last->data(), last->size()));
            if (!id)
                return answer_error(req, 400, "invalid_last_event_id",
                                    "Last-Event-ID must be a decimal event id");
            sub.resume = true;
            sub.last_event_id = *id;
        }
        if (draining)
            return answer(req, to_http(ShuttingDown{}));
        if (is_head(req)) {
            send_head_reply(req, HttpReply{200, "", {{"Cache-Control", "no-cache"}}},
                            "text/event-stream");
            return restinio::request_accepted();
        }
        if (++*subscribers > cfg.sse_max_subscribers) {
            --*subscribers;
            return answer_error(req, 503, "too_many_subscribers",
                                "SSE_MAX_SUBSCRIBERS=" + std::to_string(cfg.sse_max_subscribers) +
                                    " streams are open",
                                {{"Retry-After", std::to_string(kRetryAfterS)}});
        }
        auto connection = restinio::impl::access_req_connection(*req);
        auto resp = req->template create_response<restinio::chunked_output_t>();
        resp.append_header(restinio::http_field::content_type, "text/event-stream");
        resp.append_header(restinio::http_field::cache_control, "no-cache");
        resp.append_header("X-Accel-Buffering", "no");
        for (auto& [name, value] : cors_for(req))
            resp.append_header(name, value);
        resp.flush();
        auto sink = std::make_shared<RestinioSseSink>(std::move(resp), std::move(connection));
        // The stream holds its place until its connection is gone, however it ends: a stream
        // the broadcaster dropped may still hold a socket and its buffers for a moment.
        watch->on_close(req->connection_id(), [state = sink->state(), subs = subscribers] {
            state->failed = true;
            --*subs;
        });
        sub.sink = std::move(sink);
        // The first bytes tell EventSource clients how soon to reconnect.
        sub.sink->write("retry: 1000\n\n");
        caf::anon_send(broadcaster, std::move(sub));
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t list(const request_t& req) {
        auto params = query_params(req);
        if (!params)
            return restinio::request_accepted();
        auto q = parse_list_query(*params);
        if (auto* e = std::get_if<ApiError>(&q))
            return answer_error(req, e->status, e->code, e->message);
        caf::anon_send(reader(), ListJobs{std::move(std::get<ListQuery>(q)), reply_to(req)});
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t get(const request_t& req, const std::string& id) {
        if (id == "batch" || id == "cancel" || id == "retry" || id == "delete")
            return unmatched(req);
        if (!is_uuid(id))
            return answer_error(req, 400, "invalid_id", "'" + id + "' is not a job id (a UUID)");
        caf::anon_send(reader(), GetJob{id, reply_to(req)});
        return restinio::request_accepted();
    }

    // POST /jobs/<id>/cancel|retry, DELETE /jobs/<id>.
    restinio::request_handling_status_t change_job(const request_t& req, const std::string& id,
                                                   JobAction action) {
        if (!acceptable_write(req))
            return restinio::request_accepted();
        if (!is_uuid(id))
            return answer_error(req, 400, "invalid_id", "'" + id + "' is not a job id (a UUID)");
        caf::anon_send(controller, ChangeJob{action, id, reply_to(req)});
        return restinio::request_accepted();
    }

    // POST /jobs/cancel|retry|delete.
    restinio::request_handling_status_t change_jobs(const request_t& req, JobAction action) {
        if (!acceptable_post(req))
            return restinio::request_accepted();
        auto target = parse_bulk_target(req->body());
        if (auto* e = std::get_if<ApiError>(&target))
            return answer_error(req, e->status, e->code, e->message);
        ChangeJobs change{action, std::move(std::get<ActionTarget>(target)), reply_to(req)};
        if (auto handled = through_keeper(req, change))
            return *handled;
        caf::anon_send(controller, std::move(change));
        return restinio::request_accepted();
    }

    // A queue name from the path; answers 400 and returns false when it is not one.
    bool valid_queue(const request_t& req, const std::string& name) {
        if (is_queue_name(name))
            return true;
        answer_error(req, 400, "invalid_queue", "'" + name + "' is not a queue name");
        return false;
    }

    restinio::request_handling_status_t queues(const request_t& req,
                                               std::optional<std::string> name) {
        if (name && !valid_queue(req, *name))
            return restinio::request_accepted();
        caf::anon_send(reader(), GetQueues{std::move(name), reply_to(req)});
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t patch_queue(const request_t& req, const std::string& name) {
        if (!acceptable_post(req) || !valid_queue(req, name))
            return restinio::request_accepted();
        auto limit = parse_queue_patch(req->body());
        if (auto* e = std::get_if<ApiError>(&limit))
            return answer_error(req, e->status, e->code, e->message);
        UpdateQueue update{
            name, std::nullopt, true, std::get<std::optional<int>>(limit), reply_to(req), {}};
        caf::anon_send(writer, WriteCommand{std::move(update)});
        return restinio::request_accepted();
    }

    // POST /queues/<name>/pause and /resume: no body needed.
    restinio::request_handling_status_t pause_queue(const request_t& req, const std::string& name,
                                                    bool paused) {
        if (!acceptable_write(req) || !valid_queue(req, name))
            return restinio::request_accepted();
        UpdateQueue update{name, paused, false, std::nullopt, reply_to(req), {}};
        caf::anon_send(writer, WriteCommand{std::move(update)});
        return restinio::request_accepted();
    }

    // The /schedules routes (issue 13): bodies parsed by http/schedule_parsing.cpp, answered by
    // the scheduler actor.
    enum class ScheduleRoute { list, get, put, remove, trigger };
    restinio::request_handling_status_t schedules(const request_t& req, ScheduleRoute route,
                                                  const std::string& name = {}) {
        bool read = route == ScheduleRoute::list || route == ScheduleRoute::get;
        if (read ? !authorized(req)
                 : (route == ScheduleRoute::put ? !acceptable_post(req) : !acceptable_write(req)))
            return restinio::request_accepted();
        if (route == ScheduleRoute::put) {
            auto spec = parse_schedule(name, req->body(), registry);
            if (auto* e = std::get_if<ApiError>(&spec))
                return answer_error(req, e->status, e->code, e->message);
            caf::anon_send(scheduler, ScheduleCommand{PutSchedule{
                                          std::move(std::get<ScheduleSpec>(spec)), reply_to(req)}});
            return restinio::request_accepted();
        }
        // No schedule can have a name outside the alphabet PUT accepts.
        if (route != ScheduleRoute::list && check_schedule_name(name))
            return answer(req, to_http(NotFound{"schedule", name}));
        ScheduleCommand command;
        if (route == ScheduleRoute::list)
            command = GetSchedules{std::nullopt, reply_to(req)};
        else if (route == ScheduleRoute::get)
            command = GetSchedules{name, reply_to(req)};
        else if (route == ScheduleRoute::remove)
            command = DeleteSchedule{name, reply_to(req)};
        else
            command = TriggerSchedule{name, reply_to(req)};
        caf::anon_send(scheduler, std::move(command));
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t health(const request_t& req) {
        // Load balancers must stop sending here as soon as the process drains.
        if (draining)
            return answer(req, HttpReply{503,
                                         R"({"status":"draining"})",
                                         {{"Retry-After", std::to_string(kRetryAfterS)}}});
        caf::anon_send(reader(), CheckHealth{reply_to(req)});
        return restinio::request_accepted();
    }

    // HEAD runs the GET route of its path (every one, including routes added later) on a copy
    // of the request marked as HEAD, whose answer then goes out without its body.
    restinio::request_handling_status_t head_as_get(const request_t& req) {
        auto header = req->header();
        header.method(restinio::http_method_get());
        header.set_field(kHeadRequest, "1");
        restinio::no_extra_data_factory_t no_extra_data;
        auto twin = std::make_shared<restinio::request_t>(
            req->request_id(), std::move(header), req->body(),
            restinio::impl::access_req_connection(*req), req->remote_endpoint(), no_extra_data);
        return (*head_router)(std::move(twin));
    }

    // Unmatched requests: a known path with the wrong method is 405 with Allow, anything else 404.
    restinio::request_handling_status_t unmatched(const request_t& req) {
        if (req->header().method() == restinio::http_method_head() && !is_head(req))
            return head_as_get(req);
        std::string path(req->header().path());
        std::vector<std::string> methods;
        int best = -1;
        for (const auto& r : route_table()) {
            int literals = 0;
            if (!pattern_matches(r.pattern, path, literals) || literals < best)
                continue;
            if (literals > best)
                methods.clear();
            best = literals;
            if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
                methods.push_back(r.method);
        }
        std::sort(methods.begin(), methods.end());
        std::string allow;
        for (const auto& m : methods)
            allow += (allow.empty() ? "" : ", ") + m;
        if (allow.empty())
            allow = watch_routes_allow(path);
        if (allow.empty())
            return answer_error(req, 404, "not_found", "no route for " + path);
        // A CORS preflight (or a plain OPTIONS) of a known path, answered without the token:
        // browsers never send credentials on a preflight.
        if (req->header().method() == restinio::http_method_options()) {
            HttpReply r{204, "", {{"Allow", allow + ", OPTIONS"}}};
            if (!cors_for(req).empty())
                for (auto& h : cors_preflight_headers(allow + ", OPTIONS"))
                    r.headers.push_back(std::move(h));
            return answer(req, std::move(r));
        }
        return answer_error(req, 405, "method_not_allowed",
                            std::string(is_head(req) ? "HEAD" : req->header().method().c_str()) +
                                " is not allowed on " + path,
                            {{"Allow", allow}});
    }

    using Params = restinio::router::route_params_t;
    struct Route {
        const char* method;
        const char* pattern;
        Access access;
        restinio::request_handling_status_t (*handle)(Impl&, const request_t&, const Params&);
    };

    // Every route, once. Adding a route is adding a row: the router, the token rules (the
    // wrapper in routes() checks `access` before the handler runs), the 405 Allow list and
    // tests/http/read_token_test.cpp all read this table.
    static const std::vector<Route>& route_table() {
        static const std::vector<Route> table = {
            {"POST", "/jobs", Access::write,
             [](Impl& s, const request_t& r, const Params&) { return s.post_job(r); }},
            {"POST", "/jobs/batch", Access::write,
             [](Impl& s, const request_t& r, const Params&) { return s.post_batch(r); }},
            {"GET", "/jobs", Access::read,
             [](Impl& s, const request_t& r, const Params&) { return s.list(r); }},
            {"GET", "/jobs/:id", Access::read,
             [](Impl& s, const request_t& r, const Params& p) { return s.get(r, param(p, "id")); }},
            {"POST", "/jobs/cancel", Access::write,
             [](Impl& s, const request_t& r, const Params&) {
                 return s.change_jobs(r, JobAction::cancel);
             }},
            {"POST", "/jobs/retry", Access::write,
             [](Impl& s, const request_t& r, const Params&) {
                 return s.change_jobs(r, JobAction::retry);
             }},
            {"POST", "/jobs/delete", Access::write,
             [](Impl& s, const request_t& r, const Params&) {
                 return s.change_jobs(r, JobAction::remove);
             }},
            {"POST", "/jobs/:id/cancel", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.change_job(r, param(p, "id"), JobAction::cancel);
             }},
            {"POST", "/jobs/:id/retry", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.change_job(r, param(p, "id"), JobAction::retry);
             }},
            {"DELETE", "/jobs/:id", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.change_job(r, param(p, "id"), JobAction::remove);
             }},
            {"GET", "/queues", Access::read,
             [](Impl& s, const request_t& r, const Params&) { return s.queues(r, std::nullopt); }},
            {"GET", "/queues/:name", Access::read,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.queues(r, param(p, "name"));
             }},
            {"PATCH", "/queues/:name", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.patch_queue(r, param(p, "name"));
             }},
            {"POST", "/queues/:name/pause", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.pause_queue(r, param(p, "name"), true);
             }},
            {"POST", "/queues/:name/resume", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.pause_queue(r, param(p, "name"), false);
             }},
            {"GET", "/schedules", Access::read,
             [](Impl& s, const request_t& r, const Params&) {
                 return s.schedules(r, ScheduleRoute::list);
             }},
            {"GET", "/schedules/:name", Access::read,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.schedules(r, ScheduleRoute::get, param(p, "name"));
             }},
            {"PUT", "/schedules/:name", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.schedules(r, ScheduleRoute::put, param(p, "name"));
             }},
            {"DELETE", "/schedules/:name", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.schedules(r, ScheduleRoute::remove, param(p, "name"));
             }},
            {"POST", "/schedules/:name/trigger", Access::write,
             [](Impl& s, const request_t& r, const Params& p) {
                 return s.schedules(r, ScheduleRoute::trigger, param(p, "name"));
             }},
            {"GET", "/healthz", Access::open,
             [](Impl& s, const request_t& r, const Params&) { return s.health(r); }},
            {"GET", "/events", Access::stream,
             [](Impl& s, const request_t& r, const Params&) { return s.events(r); }},
        };
        return table;
    }

    std::unique_ptr<router_t> routes() {
        auto router = std::make_unique<router_t>();
        for (const auto& route : route_table())
            router->add_handler(method_id(route.method), route.pattern,
                                [this, r = &route](request_t req, Params params) {
                                    if (!authorize(req, r->access))
                                        return restinio::request_accepted();
                                    return r->handle(*this, req, params);
                                });
        add_watch_routes(
            *router,
            WatchDeps{[this](const request_t& req) { return authorized(req); },
                      [](const request_t& req, HttpReply r) { send_reply(req, std::move(r)); },
                      subscribers});
        router->non_matched_request_handler([this](auto req) { return unmatched(req); });
        head_router = router.get();
        return router;
    }
};

HttpServer::HttpServer(std::shared_ptr<const Config> cfg, const HandlerRegistry& registry,
                       writer_actor writer, controller_actor controller,
                       std::vector<reader_actor> readers, sse_broadcaster_actor broadcaster,
                       std::shared_ptr<std::atomic<int>> subscribers)
    : impl_(std::make_unique<Impl>(std::move(cfg), registry, std::move(writer),
                                   std::move(controller), std::move(readers),
                                   std::move(broadcaster), std::move(subscribers))) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start() {
    auto* impl = impl_.get();
    cors_policy = &impl->cfg.cors;
    // No more than MAX_BODY_BYTES of a body is kept; a larger one is read and dropped, and
    // answered 413 (http/body_limit.hpp).
    auto max_body = static_cast<std::uint64_t>(impl->cfg.max_body_bytes);
    auto settings =
        restinio::server_settings_t<traits_t>{}
            .address(impl->cfg.host)
            .port(static_cast<std::uint16_t>(impl->cfg.port))
            .request_handler(impl->routes())
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                          .max_body_size(max_body)
                                          .max_url_size(16 * 1024)
                                          .max_field_name_size(1024)
                                          .max_field_count(100)
                                          .max_field_value_size(16384))
            .max_parallel_connections(static_cast<std::size_t>(impl->cfg.max_connections))
            .connection_state_listener(impl->watch)
            // Reading on while a response streams is how a closed SSE client is noticed at once.
            .max_pipelined_requests(2)
            .read_next_http_message_timelimit(std::chrono::seconds(impl->cfg.http_read_timeout_s))
            // An SSE stream is one long response: it must outlive several keep-alives.
            .handle_request_timeout(
                std::chrono::seconds(std::max(60, 3 * impl->cfg.sse_keepalive_s)))
            .write_http_response_timelimit(std::chrono::seconds(30))
            .acceptor_post_bind_hook([impl](asio::ip::tcp::acceptor& a) {
                impl->bound_port = a.local_endpoint().port();
            });
    impl->server = restinio::run_async(restinio::own_io_context(), std::move(settings),
                                       static_cast<std::size_t>(impl->cfg.http_threads));
    log::info("http", "listening on http://" + impl->cfg.host + ":" +
                          std::to_string(impl->bound_port.load()));
    if (impl->cfg.api_token.empty() && !is_loopback_host(impl->cfg.host))
        log::warn("http", "serving " + impl->cfg.host +
                              " without API_TOKEN (ALLOW_UNAUTHENTICATED=true): anyone who can "
                              "reach this port can submit jobs, webhooks included");
}

std::vector<RouteInfo> HttpServer::routes() {
    std::vector<RouteInfo> out;
    for (const auto& r : Impl::route_table())
        out.push_back({r.method, r.pattern, r.access});
    return out;
}

int HttpServer::port() const {
    return impl_->bound_port;
}

void HttpServer::set_draining() {
    impl_->draining = true;
}

void HttpServer::set_idempotency_keeper(idempotency_keeper_actor keeper) {
    impl_->keeper = std::move(keeper);
}

void HttpServer::set_scheduler(scheduler_actor scheduler) {
    impl_->scheduler = std::move(scheduler);
}

void HttpServer::stop() {
    if (impl_ && impl_->server) {
        impl_->server->stop();
        impl_->server->wait();
        impl_->server.reset();
    }
}

} // namespace conveyor
