#pragma once
// Which HTTP connections are open, from RESTinio's connection state listener, so that an SSE
// stream learns at once that its client is gone (RESTinio reads the socket while the stream is
// written, and sees the close), and counts against SSE_MAX_SUBSCRIBERS until its connection is
// really closed. Included by src/http/server.cpp only, after <restinio/all.hpp>.
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace conveyor {

class ConnectionWatch {
  public:
    // Called by RESTinio on its I/O threads (traits_t::connection_state_listener_t).
    void state_changed(const restinio::connection_state::notice_t& notice) noexcept {
        std::function<void()> closed;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (restinio::holds_alternative<restinio::connection_state::accepted_t>(
                    notice.cause())) {
                open_.insert(notice.connection_id());
                return;
            }
            open_.erase(notice.connection_id());
            auto it = on_close_.find(notice.connection_id());
            if (it == on_close_.end())
                return;
            closed = std::move(it->second);
            on_close_.erase(it);
        }
        closed();
    }

    // Runs `closed` once, when connection `id` closes; at once when it has already closed.
    void on_close(restinio::connection_id_t id, std::function<void()> closed) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (open_.count(id)) {
                on_close_[id] = std::move(closed);
                return;
            }
        }
        closed();
    }

  private:
    std::mutex mutex_;
    std::unordered_set<restinio::connection_id_t> open_;
    std::unordered_map<restinio::connection_id_t, std::function<void()>> on_close_;
};

} // namespace conveyor
