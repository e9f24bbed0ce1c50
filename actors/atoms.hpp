#pragma once
// Every atom of the system, declared once, each with one meaning.
#include <caf/atom.hpp>

namespace conveyor {

using wake_atom = caf::atom_constant<caf::atom("wake")>;           // work may be available
using claim_atom = caf::atom_constant<caf::atom("claim")>;         // claimer: run a claim now
using flush_atom = caf::atom_constant<caf::atom("flush")>;         // writer: write the buffer
using poll_atom = caf::atom_constant<caf::atom("poll")>;           // claimer: fallback poll tick
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>; // claimer: refresh heartbeats
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;     // claimer: check deadlines
using reap_atom = caf::atom_constant<caf::atom("reap")>;           // reaper: look for lost jobs
using keepalive_atom = caf::atom_constant<caf::atom("keepalive")>; // broadcaster: idle streams tick
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;     // broadcaster: write batch
// claimer: a cancel was requested somewhere; look for running jobs of ours that it concerns.
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>; // broadcaster: drop gone streams
using prune_atom = caf::atom_constant<caf::atom("prune")>; // reaper: trim job_events
// Maintenance (issue 13): maintainer: take, renew or check the lease; cleaner: delete expired
// jobs; scheduler: enqueue due schedule slots.
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using clean_atom = caf::atom_constant<caf::atom("clean")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using sample_atom = caf::atom_constant<caf::atom("sample")>; // stats sampler: maybe count
// Shutdown, step 1 (claimer only): take no new work, answer true once running attempts ended.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
// claimer, self-sent: the drain's grace period is over; release what still runs.
using grace_atom = caf::atom_constant<caf::atom("grace")>;
// Shutdown, last step (every actor): finish what is buffered, answer true, quit.
using stop_atom = caf::atom_constant<caf::atom("stop")>;

} // namespace conveyor
