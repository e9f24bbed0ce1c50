#pragma once
// The notifier holds the LISTEN connection. `conveyor_wake` notifications wake the claimer within
// milliseconds; a lost connection is re-established (the claimer's polling covers the gap).
#include <caf/actor.hpp>

#include "actors/claimer.hpp"
#include "config.hpp"

namespace conveyor {

// A blocking actor on its own thread; stops on stop_atom.
caf::actor spawn_notifier(caf::actor_system& sys, const Config& cfg, claimer_actor claimer);

}  // namespace conveyor
