#pragma once
// Every SQL statement Conveyor runs, each named for what it does. Nothing else writes SQL.
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "config.hpp"
#include "event.hpp"
#include "http/request_parsing.hpp"
#include "job.hpp"
#include "store/connection.hpp"

namespace conveyor::store {

void prepare_statements(pqxx::connection& conn, Role role);

// Inserts the jobs and returns each as API JSON, in the order given.
std::vector<std::string> insert_jobs(pqxx::work& tx, const std::vector<NewJob>& jobs);

// Wakes idle claimers of every process (LISTEN conveyor_wake).
void notify_wake(pqxx::work& tx);

// Writes attempt results, only where the job is still processing, locked by `worker`, on the
// same attempt. Returns how many rows changed.
int apply_results(pqxx::work& tx, const std::string& worker,
                  const std::vector<AttemptResult>& results, const Config& cfg);

// Returns running jobs to pending without counting the attempt (graceful shutdown).
int release_jobs(pqxx::work& tx, const std::string& worker,
                 const std::vector<std::pair<std::string, int>>& id_attempts);

// Claims up to `limit` due pending jobs with FOR UPDATE SKIP LOCKED, oldest scheduled first.
// One statement, committed on its own (autocommit): one round trip per claim.
std::vector<ClaimedJob> claim_jobs(pqxx::nontransaction& tx, const std::string& worker, int limit);

// Milliseconds until the next pending job becomes due, if any is scheduled in the future.
std::optional<long long> ms_until_next_due(pqxx::connection& conn);

// Refreshes heartbeat_at of this worker's running jobs.
int heartbeat(pqxx::work& tx, const std::string& worker, const std::vector<std::string>& ids);

// Returns jobs whose heartbeat is older than stale_after_s to pending (with backoff) or failed.
int reap_lost_jobs(pqxx::work& tx, const Config& cfg);

std::optional<std::string> get_job_json(pqxx::connection& conn, const std::string& id);

struct JobPage {
    std::vector<std::string> jobs; // API JSON, newest first
    std::optional<Cursor> next;    // set when more jobs exist
};
JobPage list_jobs(pqxx::connection& conn, const ListQuery& q);

void ping(pqxx::connection& conn);

// Events with id > after_id, oldest first (at most `limit`).
std::vector<JobEvent> read_events(pqxx::connection& conn, std::uint64_t after_id, int limit);
// The newest `n` events, oldest first: the retained window a new process starts with.
std::vector<JobEvent> latest_events(pqxx::connection& conn, int n);
// Deletes events older than the newest `keep`; returns how many went.
int prune_events(pqxx::connection& conn, long long keep);

} // namespace conveyor::store
