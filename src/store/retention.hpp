#pragma once
// Retention of finished jobs (README "Maintenance").
#include <string>

#include <pqxx/pqxx>

namespace conveyor::store {

// Deletes at most `limit` jobs in `status` (done, failed or cancelled) whose finished_at is more
// than `age_s` seconds ago, in one short transaction whose statement may run `timeout_ms` at
// most (past it, pqxx::sql_error with SQLSTATE 57014: nothing was deleted). Returns how many went.
int delete_expired_jobs(pqxx::connection& conn, const std::string& status, long age_s, int limit,
                        int timeout_ms);

} // namespace conveyor::store
