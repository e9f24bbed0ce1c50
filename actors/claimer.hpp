#pragma once
// The claimer keeps this process's WORKER_CONCURRENCY slots busy: it claims as many due jobs as
// there are free slots (one statement), spawns one executor per job, refreshes heartbeats, turns
// overlong attempts into `timeout` failures, and passes finished attempts on to the writer in
// batches. Slot book-keeping lives in engine/slot_book.hpp.
#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/writer.hpp"
#include "handlers/registry.hpp"

namespace conveyor {

using claimer_actor = caf::typed_actor<
    // Work may be available (NOTIFY, a freed slot, a due retry): claim soon.
    caf::reacts_to<wake_atom>,
    // Self-sent: claim for the free slots now.
    caf::reacts_to<claim_atom>,
    // A cancellation was requested (NOTIFY conveyor_cancel): tell the handlers it concerns.
    caf::reacts_to<cancel_atom>,
    // From an executor: its attempt is over; the slot is free, the result goes to the writer.
    caf::reacts_to<AttemptFinished>,
    // Self-sent timers: fallback poll, heartbeat refresh, deadline check.
    caf::reacts_to<poll_atom>, caf::reacts_to<heartbeat_atom>, caf::reacts_to<timeout_atom>,
    // Stops claiming; answers true once running jobs finished or, after SHUTDOWN_TIMEOUT_S,
    // were released to pending.
    caf::replies_to<drain_atom>::with<bool>,
    // Self-sent when the grace period ends: releases what still runs, answers the drain.
    caf::reacts_to<grace_atom>,
    // Quits (after the drain); answers true.
    caf::replies_to<stop_atom>::with<bool>>;

// `registry` must outlive the actor system (it lives for the whole process).
claimer_actor spawn_claimer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                            const HandlerRegistry& registry, const std::string& worker_id,
                            writer_actor writer);

} // namespace conveyor
