#pragma once
// The notifier holds the LISTEN connection.
// - `conveyor_wake` (new or released jobs) wakes the claimer within milliseconds.
// - `conveyor_events` (a status change was committed) makes it read the new rows of job_events in
//   id order and pass them to the SSE broadcaster. An id missing from the sequence is an event
//   still being committed: reading stops there briefly, so events are never sent out of order.
// A lost connection is re-established (events missed meanwhile are read from the table; the
// claimer's polling covers wake-ups).
#include <future>
#include <memory>

#include <caf/actor.hpp>

#include "actors/claimer.hpp"
#include "actors/sse_broadcaster.hpp"
#include "config.hpp"

namespace conveyor {

// A blocking actor on its own thread; on stop_atom it answers true and quits. `ready` is set
// once the retained window went to the broadcaster: streams opened before that would count
// events committed meanwhile as history and never see them live.
caf::actor spawn_notifier(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          claimer_actor claimer, sse_broadcaster_actor broadcaster,
                          std::shared_ptr<std::promise<void>> ready);

} // namespace conveyor
