#pragma once
// A reader answers GET requests from its own connection, so reads never wait behind writes.
// Several run side by side; the HTTP front end picks one round-robin.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "config.hpp"

namespace conveyor {

using reader_actor = caf::typed_actor<
    // Answers GET /jobs/<id>: 200 with the job or 404.
    caf::reacts_to<GetJob>,
    // Answers GET /jobs: 200 with a page of jobs and a Link header when more exist.
    caf::reacts_to<ListJobs>,
    // Answers GET /healthz.
    caf::reacts_to<CheckHealth>,
    // Answers GET /queues (every queue) and GET /queues/<name> (200 or 404).
    caf::reacts_to<GetQueues>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

reader_actor spawn_reader(caf::actor_system& sys, std::shared_ptr<const Config> cfg);

} // namespace conveyor
