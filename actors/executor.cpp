#include "actors/executor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "log.hpp"
#include "metrics/metrics.hpp"

namespace conveyor {

HandlerResult run_attempt(const Config& cfg, const Handler* handler, const ClaimedJob& job,
                          std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>* cancel) {
    // A row can hold a type this build does not know (inserted by a newer version, or by hand).
    if (!handler)
        return HandlerResult::fail("unknown job_type '" + job.job_type + "'");
    auto payload = nlohmann::json::parse(job.payload, nullptr, false);
    if (payload.is_discarded() || !payload.is_object())
        return HandlerResult::fail("payload must be a JSON object");
    if (auto err = handler->validate(payload))
        return HandlerResult::fail(*err);
    HandlerResult result;
    try {
        result = handler->run(payload, HandlerContext{cfg, job, deadline, cancel});
    } catch (const std::exception& e) {
        result = HandlerResult::retry(std::string("handler threw: ") + e.what());
    } catch (...) {
        result = HandlerResult::retry("handler threw an unknown exception");
    }
    if (result.outcome != Outcome::success && cancel && cancel->load())
        result.message = "cancelled: " + result.message;
    else if (result.outcome != Outcome::success && std::chrono::steady_clock::now() > deadline &&
             result.message.rfind("timeout", 0) != 0)
        result.message = "timeout: " + result.message;
    // PostgreSQL text cannot hold NUL; keep last_error bounded.
    for (auto& c : result.message)
        if (c == '\0')
            c = '?';
    if (result.message.size() > 2000)
        result.message.resize(2000);
    return result;
}

namespace {

// Every failure is visible at the default level (info); a final one is a warning.
void log_outcome(const ClaimedJob& job, const HandlerResult& result,
                 std::optional<std::chrono::milliseconds> retry_in) {
    // Every job succeeds through here: build no message unless it is logged.
    if (result.outcome == Outcome::success && !log::enabled(LogLevel::debug))
        return;
    std::string what = "job " + job.id + " (" + job.job_type + ") attempt " +
                       std::to_string(job.attempt) + "/" + std::to_string(job.max_attempts);
    if (result.outcome == Outcome::success)
        log::debug("executor", what + ": done");
    else if (retry_in)
        log::info("executor", what + " failed, retrying in " + std::to_string(retry_in->count()) +
                                  " ms: " + result.message);
    else if (result.outcome == Outcome::permanent)
        log::warn("executor", what + " failed permanently: " + result.message);
    else
        log::warn("executor", what + " failed, no attempts left: " + result.message);
}

void executor(caf::event_based_actor* self, std::shared_ptr<const Config> cfg,
              const Handler* handler, ClaimedJob job,
              std::chrono::steady_clock::time_point deadline,
              std::shared_ptr<const std::atomic<bool>> cancel, claimer_actor claimer) {
    auto started = std::chrono::steady_clock::now();
    auto result = run_attempt(*cfg, handler, job, deadline, cancel.get());
    std::chrono::duration<double> ran = std::chrono::steady_clock::now() - started;
    std::optional<std::chrono::milliseconds> retry_in;
    // A cancelled job is never retried, whatever its handler says.
    const bool cancelled = cancel && cancel->load() && result.outcome != Outcome::success;
    if (result.outcome == Outcome::transient && job.attempt < job.max_attempts && !cancelled)
        retry_in = cfg->backoff_after(job.attempt);
    metrics::job_finished(job.queue, job.job_type,
                          result.outcome == Outcome::success ? metrics::Finish::done
                          : cancelled                        ? metrics::Finish::cancelled
                          : retry_in                         ? metrics::Finish::retried
                                                             : metrics::Finish::failed,
                          ran.count());
    log_outcome(job, result, retry_in);
    self->send(claimer, AttemptFinished{AttemptResult{AttemptRef{std::move(job.id), job.attempt},
                                                      std::move(result)},
                                        retry_in});
}

} // namespace

void spawn_executor(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                    const Handler* handler, ClaimedJob job,
                    std::chrono::steady_clock::time_point deadline,
                    std::shared_ptr<const std::atomic<bool>> cancel, claimer_actor claimer) {
    if (handler && handler->blocking())
        sys.spawn<caf::detached>(executor, std::move(cfg), handler, std::move(job), deadline,
                                 std::move(cancel), claimer);
    else
        sys.spawn(executor, std::move(cfg), handler, std::move(job), deadline, std::move(cancel),
                  claimer);
}

} // namespace conveyor
