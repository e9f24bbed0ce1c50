#include "http/server.hpp"

#include <atomic>
#include <cctype>

#include <caf/send.hpp>
#include <restinio/all.hpp>

#include "http/body_limit.hpp"
#include "http/connection_watch.hpp"
#include "http/replies.hpp"
#include "http/request_parsing.hpp"
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
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
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
    resp.append_header(restinio::http_field::content_type, "application/json");
    for (auto& [name, value] : r.headers)
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
    std::vector<reader_actor> readers;
    sse_broadcaster_actor broadcaster;
    std::shared_ptr<std::atomic<int>> subscribers;
    std::atomic<size_t> next_reader{0};
    std::atomic<bool> draining{false};
    std::atomic<int> bound_port{0};
    restinio::running_server_handle_t<traits_t> server;
    router_t* head_router = nullptr; // owned by `server`; HEAD requests go through it again
    std::shared_ptr<ConnectionWatch> watch = std::make_shared<ConnectionWatch>();

    Impl(std::shared_ptr<const Config> c, const HandlerRegistry& r, writer_actor w,
         std::vector<reader_actor> rs, sse_broadcaster_actor b,
         std::shared_ptr<std::atomic<int>> subs)
        : config(std::move(c)), cfg(*config), registry(r), writer(std::move(w)),
          readers(std::move(rs)), broadcaster(std::move(b)), subscribers(std::move(subs)) {}

    const reader_actor& reader() { return readers[next_reader++ % readers.size()]; }

    // Returns false (and answers 401) when API_TOKEN is set and the request lacks it.
    // `query_token` is ?access_token= of /events (browsers' EventSource cannot set headers).
    bool authorized(const request_t& req, const std::string* query_token = nullptr) {
        if (cfg.api_token.empty())
            return true;
        auto value = req->header().opt_value_of(restinio::http_field::authorization);
        std::string given = value ? std::string(value->data(), value->size()) : std::string();
        // The scheme is case-insensitive (RFC 7235 §2.1); the token is not.
        const std::string scheme = "bearer ";
        bool bearer = given.size() >= scheme.size();
        for (size_t i = 0; bearer && i < scheme.size(); ++i)
            bearer = std::tolower(static_cast<unsigned char>(given[i])) == scheme[i];
        if (bearer && constant_time_equal(given.substr(scheme.size()), cfg.api_token))
            return true;
        if (query_token && constant_time_equal(*query_token, cfg.api_token))
            return true;
        answer_error(req, 401, "unauthorized", "missing or wrong bearer token",
                     {{"WWW-Authenticate", "Bearer realm=\"conveyor\""}});
        return false;
    }

    // Common checks of a write; returns false after answering when the request is refused.
    bool acceptable_write(const request_t& req) {
        if (!authorized(req))
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
        caf::anon_send(writer, WriteCommand{std::move(insert)});
        return restinio::request_accepted();
    }

    restinio::request_handling_status_t post_batch(const request_t& req) {
        if (!acceptable_post(req))
            return restinio::request_accepted();
        auto parsed = parse_batch(req->body(), registry);
        if (auto* e = std::get_if<ApiError>(&parsed))
            return answer_error(req, e->status, e->code, e->message);
        InsertJobs insert{
            std::move(std::get<std::vector<NewJob>>(parsed)), true, reply_to(req), {}};
        caf::anon_send(writer, WriteCommand{std::move(insert)});
        return restinio::request_accepted();
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
        auto token = params->count("access_token") ? (*params)["access_token"] : std::string();
        if (!authorized(req, params->count("access_token") ? &token : nullptr))
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
        if (!authorized(req))
            return restinio::request_accepted();
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
        if (id == "batch")
            return answer_error(req, 405, "method_not_allowed", "GET is not allowed on /jobs/batch",
                                {{"Allow", "POST"}});
        if (!authorized(req))
            return restinio::request_accepted();
        if (!is_uuid(id))
            return answer_error(req, 400, "invalid_id", "'" + id + "' is not a job id (a UUID)");
        caf::anon_send(reader(), GetJob{id, reply_to(req)});
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
        if (!authorized(req) || (name && !valid_queue(req, *name)))
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
        std::string allow;
        if (path == "/jobs")
            allow = "GET, POST";
        else if (path == "/jobs/batch")
            allow = "POST";
        else if (path.rfind("/jobs/", 0) == 0 && path.find('/', 6) == std::string::npos)
            allow = "GET";
        else if (path == "/healthz" || path == "/events" || path == "/queues")
            allow = "GET";
        else if (path.rfind("/queues/", 0) == 0) {
            auto rest = path.substr(8);
            auto slash = rest.find('/');
            if (slash == std::string::npos)
                allow = "GET, PATCH";
            else if (rest.substr(slash) == "/pause" || rest.substr(slash) == "/resume")
                allow = "POST";
        }
        if (!allow.empty())
            return answer_error(
                req, 405, "method_not_allowed",
                std::string(is_head(req) ? "HEAD" : req->header().method().c_str()) +
                    " is not allowed on " + path,
                {{"Allow", allow}});
        return answer_error(req, 404, "not_found", "no route for " + path);
    }

    std::unique_ptr<router_t> routes() {
        auto router = std::make_unique<router_t>();
        router->http_post("/jobs", [this](auto req, auto) { return post_job(req); });
        router->http_post("/jobs/batch", [this](auto req, auto) { return post_batch(req); });
        router->http_get("/jobs", [this](auto req, auto) { return list(req); });
        router->http_get("/jobs/:id", [this](auto req, auto params) {
            return get(req, restinio::cast_to<std::string>(params["id"]));
        });
        router->http_get("/queues", [this](auto req, auto) { return queues(req, std::nullopt); });
        router->http_get("/queues/:name", [this](auto req, auto params) {
            return queues(req, restinio::cast_to<std::string>(params["name"]));
        });
        router->add_handler(
            restinio::http_method_patch(), "/queues/:name", [this](auto req, auto params) {
                return patch_queue(req, restinio::cast_to<std::string>(params["name"]));
            });
        router->http_post("/queues/:name/pause", [this](auto req, auto params) {
            return pause_queue(req, restinio::cast_to<std::string>(params["name"]), true);
        });
        router->http_post("/queues/:name/resume", [this](auto req, auto params) {
            return pause_queue(req, restinio::cast_to<std::string>(params["name"]), false);
        });
        router->http_get("/healthz", [this](auto req, auto) { return health(req); });
        router->http_get("/events", [this](auto req, auto) { return events(req); });
        router->non_matched_request_handler([this](auto req) { return unmatched(req); });
        head_router = router.get();
        return router;
    }
};

HttpServer::HttpServer(std::shared_ptr<const Config> cfg, const HandlerRegistry& registry,
                       writer_actor writer, std::vector<reader_actor> readers,
                       sse_broadcaster_actor broadcaster,
                       std::shared_ptr<std::atomic<int>> subscribers)
    : impl_(std::make_unique<Impl>(std::move(cfg), registry, std::move(writer), std::move(readers),
                                   std::move(broadcaster), std::move(subscribers))) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start() {
    auto* impl = impl_.get();
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
}

int HttpServer::port() const {
    return impl_->bound_port;
}

void HttpServer::set_draining() {
    impl_->draining = true;
}

void HttpServer::stop() {
    if (impl_ && impl_->server) {
        impl_->server->stop();
        impl_->server->wait();
        impl_->server.reset();
    }
}

} // namespace conveyor
