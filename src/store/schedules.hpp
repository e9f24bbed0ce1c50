#pragma once
// The schedules table (migrations/008_maintenance.sql). Times are epoch seconds.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "model/schedule.hpp"

namespace conveyor::store {

// The database's clock, whole seconds.
std::int64_t db_now(pqxx::transaction_base& tx);

struct StoredSchedule {
    std::string json; // API JSON
    bool created = false;
};
// Creates or replaces the schedule; `next_run` none while disabled.
StoredSchedule upsert_schedule(pqxx::transaction_base& tx, const ScheduleSpec& spec,
                               std::optional<std::int64_t> next_run);

// As API JSON, by name: every schedule, or the one named (empty when it does not exist).
std::vector<std::string> list_schedules(pqxx::transaction_base& tx,
                                        const std::optional<std::string>& name);

// False when there was no such schedule.
bool delete_schedule(pqxx::transaction_base& tx, const std::string& name);

// The normalized job JSON of the schedule, if it exists.
std::optional<std::string> schedule_job(pqxx::transaction_base& tx, const std::string& name);

struct DueSchedule {
    std::string name, cron, timezone, job;
    std::int64_t next_run = 0; // the slot that came due first
    std::int64_t now = 0;      // the database's clock when locked
};
// Locks up to `limit` due schedules (FOR UPDATE SKIP LOCKED) until the transaction ends.
std::vector<DueSchedule> lock_due_schedules(pqxx::transaction_base& tx, int limit);

// Records that `slot` was enqueued (none: nothing was) and the next slot is `next_run` (none: no
// slot comes).
void advance_schedule(pqxx::transaction_base& tx, const std::string& name,
                      std::optional<std::int64_t> next_run, std::optional<std::int64_t> slot);

} // namespace conveyor::store
