#pragma once
// The HTTP front end: RESTinio routes that validate requests and hand them to actors as messages.
// No handler touches the database; answers arrive asynchronously from the actors.
#include <memory>
#include <vector>

#include "actors/reader.hpp"
#include "actors/scheduler.hpp"
#include "actors/sse_broadcaster.hpp"
#include "actors/writer.hpp"
#include "handlers/registry.hpp"

namespace conveyor {

class HttpServer {
  public:
    HttpServer(std::shared_ptr<const Config> cfg, const HandlerRegistry& registry,
               writer_actor writer, std::vector<reader_actor> readers,
               sse_broadcaster_actor broadcaster, std::shared_ptr<std::atomic<int>> subscribers);
    ~HttpServer();
    // Binds and starts serving; throws when the address cannot be bound.
    void start();
    // The bound port (useful with PORT=0).
    int port() const;
    // From now on, submissions get 503 shutting_down.
    void set_draining();
    // The actor answering /schedules (issue 13); set before start().
    void set_scheduler(scheduler_actor scheduler);
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace conveyor
