#include "actors/executor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "log.hpp"

namespace conveyor {

HandlerResult run_attempt(const Config& cfg, const Handler* handler, const ClaimedJob& job,
                          std::chrono::steady_clock::time_point deadline) {
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
        result = handler->run(payload, HandlerContext{cfg, job, deadline});
    } catch (const std::exception& e) {
        result = HandlerResult::retry(std::string("handler threw: ") + e.what());
    } catch (...) {
        result = HandlerResult::retry("handler threw an unknown exception");
    }
    if (result.outcome != Outcome::success && std::chrono::steady_clock::now() > deadline &&
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

void executor(caf::event_based_actor* self, const Config* cfg, const Handler* handler,
              ClaimedJob job, std::chrono::steady_clock::time_point deadline,
              claimer_actor claimer) {
    auto result = run_attempt(*cfg, handler, job, deadline);
    log::debug("executor", "job " + job.id + " attempt " + std::to_string(job.attempt) + ": " +
                               to_string(result.outcome) +
                               (result.message.empty() ? "" : " (" + result.message + ")"));
    std::optional<std::chrono::milliseconds> retry_in;
    if (result.outcome == Outcome::transient && job.attempt < job.max_attempts)
        retry_in = cfg->backoff_after(job.attempt);
    self->send(claimer,
               AttemptFinished{AttemptResult{std::move(job.id), job.attempt, std::move(result)},
                               retry_in});
}

} // namespace

void spawn_executor(caf::actor_system& sys, const Config& cfg, const Handler* handler,
                    ClaimedJob job, std::chrono::steady_clock::time_point deadline,
                    claimer_actor claimer) {
    if (handler && handler->blocking())
        sys.spawn<caf::detached>(executor, &cfg, handler, std::move(job), deadline, claimer);
    else
        sys.spawn(executor, &cfg, handler, std::move(job), deadline, claimer);
}

} // namespace conveyor
