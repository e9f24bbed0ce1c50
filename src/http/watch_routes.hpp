#pragma once
// The routes for watching Conveyor (SPEC §4, §11): GET /metrics (Prometheus text), GET
// /openapi.json, GET / (to the dashboard) and the dashboard's files under /ui/. Kept apart from
// the job API in server.cpp; the server lends its token check and its reply function.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <restinio/all.hpp>

#include "http/replies.hpp"

namespace conveyor {

struct WatchDeps {
    // Answers 401 itself and returns false when the request lacks the token.
    std::function<bool(const restinio::request_handle_t&)> authorized;
    // Sends a reply with the server's common headers (CORS); a Content-Type in `headers` wins
    // over application/json.
    std::function<void(const restinio::request_handle_t&, HttpReply)> reply;
    std::shared_ptr<std::atomic<int>> subscribers; // open SSE streams
};

void add_watch_routes(restinio::router::express_router_t<>& router, WatchDeps deps);

// The methods allowed on `path` if it is one of these routes (for 405 and OPTIONS), or "".
std::string watch_routes_allow(const std::string& path);

} // namespace conveyor
