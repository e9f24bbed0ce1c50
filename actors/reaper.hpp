#pragma once
// The reaper returns jobs whose worker died (a lease its owner stopped renewing: the owner's own
// STALE_AFTER_S after its last heartbeat) to pending with backoff, or to failed when their
// attempts are used up. It also trims the event log to the newest kEventsKept events. Every
// process has one, but only the maintainer's works (actors/maintainer.hpp); two at once would
// still be safe.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/claimer.hpp"
#include "config.hpp"

namespace conveyor {

using reaper_actor = caf::typed_actor<
    // Self-sent every REAPER_INTERVAL_S: reclaim lost jobs.
    caf::reacts_to<reap_atom>,
    // Self-sent every 10 s: delete events older than the newest kEventsKept.
    caf::reacts_to<prune_atom>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

constexpr long long kEventsKept = 50000;

reaper_actor spawn_reaper(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          claimer_actor claimer);

} // namespace conveyor
