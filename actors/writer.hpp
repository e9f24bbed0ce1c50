#pragma once
// The writer owns every write of job state except claims: inserts from HTTP, attempt results
// (forwarded by the claimer), releases at shutdown. Each arrives as a WriteCommand; commands
// arriving together share one transaction (group commit), so throughput is not one fsync per
// request, and a command the database refuses fails alone while the rest commit.
#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "config.hpp"

namespace conveyor {

using writer_actor = caf::typed_actor<
    // Buffers the command for the next write; an insert is answered once committed.
    caf::reacts_to<WriteCommand>,
    // Self-sent: writes everything buffered.
    caf::reacts_to<flush_atom>,
    // Refuses new inserts, writes what is buffered, answers true.
    caf::replies_to<stop_atom>::with<bool>>;

writer_actor spawn_writer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          const std::string& worker_id);

} // namespace conveyor
