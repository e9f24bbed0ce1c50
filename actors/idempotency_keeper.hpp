#pragma once
// The idempotency keeper runs requests that carry an Idempotency-Key (SPEC §9, README
// "Idempotency keys"): it takes the key in the database, hands the request to the writer or the
// controller, records their answer, and answers a repeat from that record without running
// anything again. Its own connection: a slow bulk action in the controller never delays it.
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/controller.hpp"
#include "actors/messages.hpp"
#include "actors/writer.hpp"
#include "config.hpp"

namespace conveyor {

using idempotency_keeper_actor =
    caf::typed_actor<caf::reacts_to<IdempotentRequest>, caf::reacts_to<KeyAnswered>,
                     // Self-sent: record the answers that arrived, then give them.
                     caf::reacts_to<flush_atom>,
                     // Quits; answers true. Stop it after the writer and the controller, which
                     // may still answer through it.
                     caf::replies_to<stop_atom>::with<bool>>;

// How long a taken key counts as in flight when its taker never completes it (it died): after
// that the same request may run again, with the job ids the first one chose.
constexpr long kKeyInFlightS = 60;

idempotency_keeper_actor spawn_idempotency_keeper(caf::actor_system& sys,
                                                  std::shared_ptr<const Config> cfg,
                                                  writer_actor writer, controller_actor controller);

} // namespace conveyor
