#pragma once
// A job status change as GET /events sends it.
#include <cstdint>
#include <memory>
#include <set>
#include <string>

namespace conveyor {

struct JobEvent {
    std::uint64_t id = 0;
    std::string job_id, job_type, status;
    std::string frame; // the whole SSE frame: "id: ..\nevent: job\ndata: {..}\n\n"
};

std::string sse_frame(std::uint64_t id, const std::string& data);

// Query filters of GET /events; an empty set matches everything.
struct EventFilter {
    std::set<std::string> job_ids, job_types, statuses;
    bool empty() const { return job_ids.empty() && job_types.empty() && statuses.empty(); }
    bool matches(const JobEvent& e) const {
        return (job_ids.empty() || job_ids.count(e.job_id)) &&
               (job_types.empty() || job_types.count(e.job_type)) &&
               (statuses.empty() || statuses.count(e.status));
    }
};

// What the broadcaster writes to: one open SSE response. Implemented by the HTTP layer; used only
// by the broadcaster, which owns it (a response is not thread-safe).
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
};

} // namespace conveyor
