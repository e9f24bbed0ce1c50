#pragma once
// The maintainer picks the one process that runs the reaper, the cleaner and schedule ticks: it
// holds a lease row in the database (migrations/008_maintenance.sql), renews it every third of
// MAINTAINER_LEASE_S, and while it does, is_maintainer() (engine/leadership.hpp) is true. Every
// other process checks once a second whether the lease is free or expired and takes it, so a
// holder killed without warning is replaced within MAINTAINER_LEASE_S + 1 s, and one that stops
// cleanly (it resigns) within a second.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "config.hpp"

namespace conveyor {

using maintainer_actor = caf::typed_actor<
    // Self-sent: renew the lease (holder) or try to take it (everyone else).
    caf::reacts_to<lease_atom>,
    // Resigns the lease if held, then quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

maintainer_actor spawn_maintainer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                                  const std::string& worker_id);

} // namespace conveyor
