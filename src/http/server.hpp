#pragma once
// The HTTP front end: RESTinio routes that validate requests and hand them to actors as messages.
// No handler touches the database; answers arrive asynchronously from the actors.
#include <memory>
#include <string>
#include <vector>

#include "actors/controller.hpp"
#include "actors/idempotency_keeper.hpp"
#include "actors/reader.hpp"
#include "actors/scheduler.hpp"
#include "actors/sse_broadcaster.hpp"
#include "actors/writer.hpp"
#include "handlers/registry.hpp"

namespace conveyor {

// Who may call a route. With API_TOKEN set, `write` routes need it, `read` routes also take
// API_READ_TOKEN, `stream` routes are `read` routes that also take the token as ?access_token=
// (browsers' EventSource cannot send headers), `open` routes take anyone (issue 17).
enum class Access { open, read, stream, write };

// One row of the route table, without its handler: what tests and the 405 Allow list read.
struct RouteInfo {
    std::string method;  // GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS
    std::string pattern; // express syntax, `:name` for one path segment: "/jobs/:id"
    Access access;
};

class HttpServer {
  public:
    HttpServer(std::shared_ptr<const Config> cfg, const HandlerRegistry& registry,
               writer_actor writer, controller_actor controller, std::vector<reader_actor> readers,
               sse_broadcaster_actor broadcaster, std::shared_ptr<std::atomic<int>> subscribers);
    ~HttpServer();
    // Binds and starts serving; throws when the address cannot be bound.
    void start();
    // The bound port (useful with PORT=0).
    int port() const;
    // From now on, submissions get 503 shutting_down.
    void set_draining();
    // The actor running requests with an Idempotency-Key; set before start().
    void set_idempotency_keeper(idempotency_keeper_actor keeper);
    // The actor answering /schedules (issue 13); set before start().
    void set_scheduler(scheduler_actor scheduler);
    void stop();
    // Every route, in the order they are matched (src/http/server.cpp, route_table()).
    static std::vector<RouteInfo> routes();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace conveyor
