#pragma once
// An executor runs one attempt of one job and reports its result to the claimer (which frees the
// slot and forwards results to the writer in batches), then exits. Blocking handlers get a
// thread of their own.
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/claimer.hpp"
#include "handlers/handler.hpp"

namespace conveyor {

// The executor shares ownership of the config, so it stays valid however late the handler
// returns; `handler` lives in the process-wide registry.
// `cancel` is the attempt's flag in the claimer's slot book, set when a cancel is requested.
void spawn_executor(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                    const Handler* handler, ClaimedJob job,
                    std::chrono::steady_clock::time_point deadline,
                    std::shared_ptr<const std::atomic<bool>> cancel, claimer_actor claimer);

// Runs the handler with its checks; what the executor does, callable without actors in tests.
HandlerResult run_attempt(const Config& cfg, const Handler* handler, const ClaimedJob& job,
                          std::chrono::steady_clock::time_point deadline,
                          const std::atomic<bool>* cancel = nullptr);

} // namespace conveyor
