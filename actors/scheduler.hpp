#pragma once
// The scheduler answers the /schedules routes from its own connection and, in the maintainer
// process only (actors/maintainer.hpp), enqueues due slots once a second
// (engine/schedule_ticks.hpp). Every process has one; two ticking at once would still enqueue
// each slot exactly once.
#include <optional>
#include <string>
#include <variant>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "config.hpp"
#include "handlers/registry.hpp"
#include "model/outcome.hpp"
#include "model/schedule.hpp"

namespace conveyor {

// PUT /schedules/<name>: answers ScheduleStored.
struct PutSchedule {
    ScheduleSpec spec;
    ReplyTo reply;
};
// GET /schedules (no name): Listed; GET /schedules/<name>: Found or NotFound.
struct GetSchedules {
    std::optional<std::string> name;
    ReplyTo reply;
};
// DELETE /schedules/<name>: Deleted or NotFound.
struct DeleteSchedule {
    std::string name;
    ReplyTo reply;
};
// POST /schedules/<name>/trigger: Inserted (one job, enqueued now) or NotFound.
struct TriggerSchedule {
    std::string name;
    ReplyTo reply;
};
using ScheduleCommand = std::variant<PutSchedule, GetSchedules, DeleteSchedule, TriggerSchedule>;

using scheduler_actor = caf::typed_actor<
    // Answers one /schedules request.
    caf::reacts_to<ScheduleCommand>,
    // Self-sent every second: enqueue due slots when this process is the maintainer.
    caf::reacts_to<tick_atom>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

// `registry` must outlive the actor: slots' jobs are checked against it as POST /jobs does.
scheduler_actor spawn_scheduler(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                                const HandlerRegistry& registry);

} // namespace conveyor

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conveyor::ScheduleCommand)
