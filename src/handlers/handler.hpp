#pragma once
// The interface every job type implements. See README "Adding a job type".
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "model/job.hpp"

namespace conveyor {

struct HandlerContext {
    const Config& config;
    const ClaimedJob& job;
    // The attempt fails with `timeout` after this; network handlers pass it to libcurl.
    std::chrono::steady_clock::time_point deadline;
    // Set when the job's cancellation is requested (POST /jobs/<id>/cancel, in any process).
    // A handler that stops early returns a failure; the job then ends `cancelled`.
    const std::atomic<bool>* cancel = nullptr;

    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }

    std::chrono::milliseconds remaining() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
    }
};

class Handler {
  public:
    virtual ~Handler() = default;
    // Checks a payload at submit time (422) and again before running (permanent failure).
    // Returns a message naming the bad field, or nothing when the payload is fine.
    virtual std::optional<std::string> validate(const nlohmann::json& payload) const {
        (void)payload;
        return std::nullopt;
    }
    // Runs one attempt. Called from an executor; must be thread-safe and honour ctx.deadline.
    virtual HandlerResult run(const nlohmann::json& payload, const HandlerContext& ctx) const = 0;
    // True when run() may block (network I/O, sleeping): the executor then gets its own thread
    // instead of borrowing one of the actor scheduler's.
    virtual bool blocking() const { return true; }
};

} // namespace conveyor
