#pragma once
// Turning due schedule slots into jobs (SPEC §10): exactly one job per slot however many
// processes do this at once, and after downtime only the latest missed slot.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <pqxx/pqxx>

#include "handlers/registry.hpp"
#include "model/job.hpp"

namespace conveyor {

// The job a schedule enqueues: its stored job checked again exactly as POST /jobs checks one (the
// job type's rules may have changed since it was stored), with a new id, due at `slot` (epoch
// seconds) or, without one, now. The reason when it is no longer a valid job.
std::variant<NewJob, std::string> job_from_schedule(const std::string& job_json,
                                                    std::optional<std::int64_t> slot,
                                                    const HandlerRegistry& registry);

struct FiredSlot {
    std::string schedule;
    std::string job_id; // the job enqueued, or the unfinished one holding its unique_key
    std::int64_t slot = 0;
    std::string queue, job_type;
    bool duplicate = false; // its unique_key was held: the slot enqueued nothing
};

// One transaction: locks up to `limit` due schedules, inserts one job for the latest slot of each
// that is due, and advances each one's next_run_at past the database's now, then commits. A
// schedule whose job is no longer valid skips the slot (logged). A job whose unique_key an
// unfinished job of its queue holds is not inserted, as for POST /jobs: the slot is used up and
// its FiredSlot names the holder.
std::vector<FiredSlot> fire_due_schedules(pqxx::connection& conn, const HandlerRegistry& registry,
                                          int limit = 100);

} // namespace conveyor
