#pragma once
// Turning due schedule slots into jobs (SPEC §10): exactly one job per slot however many
// processes do this at once, and after downtime only the latest missed slot.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "model/job.hpp"

namespace conveyor {

// The job a schedule enqueues (its normalized job JSON), with a new id; due at `slot` (epoch
// seconds) or, without one, now.
NewJob job_from_schedule(const std::string& job_json, std::optional<std::int64_t> slot);

struct FiredSlot {
    std::string schedule;
    std::string job_id;
    std::int64_t slot = 0;
};

// One transaction: locks up to `limit` due schedules, inserts one job for the latest slot of each
// that is due, and advances each one's next_run_at past the database's now, then commits.
std::vector<FiredSlot> fire_due_schedules(pqxx::connection& conn, int limit = 100);

} // namespace conveyor
