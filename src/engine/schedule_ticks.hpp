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
    std::string job_id;
    std::int64_t slot = 0;
};

// One transaction: locks up to `limit` due schedules, inserts one job for the latest slot of each
// that is due, and advances each one's next_run_at past the database's now, then commits. A
// schedule whose job is no longer valid skips the slot (logged).
std::vector<FiredSlot> fire_due_schedules(pqxx::connection& conn, const HandlerRegistry& registry,
                                          int limit = 100);

} // namespace conveyor
