#pragma once
// The cleaner deletes finished jobs older than their RETENTION_* (by finished_at; 0 keeps them)
// in batches of at most kCleanBatch rows, one short transaction each, repeating while batches
// come back full. A batch that hits its statement timeout is retried at half the size. Every
// process has one; only the maintainer's works (actors/maintainer.hpp), and two at once would
// still be safe (SKIP LOCKED: each deletes other rows). The event log is left alone: the reaper
// trims it by count, so the resume window of GET /events is unaffected.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "config.hpp"

namespace conveyor {

using cleaner_actor = caf::typed_actor<
    // Self-sent every kCleanEvery (each second while not the maintainer): delete expired jobs.
    caf::reacts_to<clean_atom>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

constexpr int kCleanBatch = 5000;       // rows per transaction at most
constexpr int kCleanMinBatch = 100;     // halving after timeouts stops here
constexpr int kCleanTimeoutMs = 5000;   // statement_timeout of one batch
constexpr int kCleanBatchesPerRun = 20; // per status; then the mailbox is read
constexpr auto kCleanEvery = std::chrono::seconds(10);

cleaner_actor spawn_cleaner(caf::actor_system& sys, std::shared_ptr<const Config> cfg);

} // namespace conveyor
