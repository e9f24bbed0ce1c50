#pragma once
// What the broadcaster writes to: one open SSE response. Implemented by the HTTP layer and owned
// by the broadcaster alone (a response is not thread-safe), so no HTTP type reaches the actors.
#include <cstddef>
#include <memory>
#include <string>

namespace conveyor {

class SseSink {
  public:
    virtual ~SseSink() = default;
    // Queues bytes for the client; one buffer may be queued to many sinks without copying. A
    // client that is gone shows up later in failed().
    virtual void write(std::shared_ptr<std::string> bytes) = 0;
    void write(std::string bytes) { write(std::make_shared<std::string>(std::move(bytes))); }
    // Bytes queued and not yet written to the socket.
    virtual std::size_t pending_bytes() const = 0;
    virtual bool failed() const = 0;
    // Ends the response; the connection closes once queued bytes are written or time out.
    virtual void close() = 0;
    // Drops the connection now, queued bytes and all (a reset, not a graceful close): for a
    // client that stopped reading, whose queued bytes would otherwise stay until a timeout.
    virtual void abort() = 0;
};

} // namespace conveyor
