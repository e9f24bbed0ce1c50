#pragma once
// The controller changes existing jobs on request: cancel, retry and delete, of one job, of a
// list of ids, or of every job matching a filter. It has its own connection, so a bulk action
// over 200,000 jobs (batches of kBulkBatch, each its own short transaction) never delays
// submissions or result writes.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "config.hpp"

namespace conveyor {

using controller_actor = caf::typed_actor<
    // One job (POST /jobs/<id>/cancel|retry, DELETE /jobs/<id>): the job, 404 or 409.
    caf::reacts_to<ChangeJob>,
    // POST /jobs/cancel|retry|delete: {"matched","changed"}.
    caf::reacts_to<ChangeJobs>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

controller_actor spawn_controller(caf::actor_system& sys, std::shared_ptr<const Config> cfg);

} // namespace conveyor
