#pragma once
// The dispatcher owns every write of job state except claims: inserts from HTTP, attempt results
// (forwarded by the claimer), releases at shutdown. Writes arriving together share one transaction
// (group commit), so throughput is not one fsync per request.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "config.hpp"

namespace conveyor {

using dispatcher_actor = caf::typed_actor<
    // Inserts the jobs, then answers 201 (or 503 when the database is down).
    caf::reacts_to<SubmitJobs>,
    // Buffers attempts' results for the next write.
    caf::reacts_to<AttemptsFinished>,
    // Buffers attempts to return to pending, uncounted.
    caf::reacts_to<ReleaseJobs>,
    // Self-sent: writes everything buffered in one transaction.
    caf::reacts_to<flush_atom>,
    // Refuses new submissions, writes what is buffered, answers true when done.
    caf::replies_to<stop_atom>::with<bool>>;

dispatcher_actor spawn_dispatcher(caf::actor_system& sys, const Config& cfg,
                                  const std::string& worker_id);

} // namespace conveyor
