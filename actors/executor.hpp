#pragma once
// An executor runs one attempt of one job and reports its result to the claimer (which frees the
// slot and forwards results to the dispatcher in batches), then exits. Blocking handlers get a
// thread of their own.
#include <caf/actor_system.hpp>

#include "actors/claimer.hpp"
#include "handlers/handler.hpp"

namespace conveyor {

void spawn_executor(caf::actor_system& sys, const Config& cfg, const Handler* handler,
                    ClaimedJob job, std::chrono::steady_clock::time_point deadline,
                    claimer_actor claimer);

// Runs the handler with its checks; what the executor does, callable without actors in tests.
HandlerResult run_attempt(const Config& cfg, const Handler* handler, const ClaimedJob& job,
                          std::chrono::steady_clock::time_point deadline);

} // namespace conveyor
