#pragma once
// Every database operation Conveyor performs, each named for what it does. The statements
// themselves are the files in src/store/sql/, embedded at build time; nothing else writes SQL.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "config.hpp"
#include "model/control.hpp"
#include "model/event.hpp"
#include "model/job.hpp"
#include "model/outcome.hpp"
#include "model/queue_counts.hpp"
#include "store/connection.hpp"

namespace conveyor::store {

// Registers every statement of src/store/sql/ (libpqxx prepares them on first use).
void prepare_statements(pqxx::connection& conn);

// Inserts the jobs and returns each as API JSON, in the order given.
// Each submission as stored, or the unfinished job already holding its unique_key.
// `replaying`: an earlier try may have committed (its connection died during COMMIT); jobs whose
// id is already stored are answered as stored instead of inserted twice.
std::vector<InsertedJob> insert_jobs(pqxx::transaction_base& tx, const std::vector<NewJob>& jobs,
                                     bool replaying = false);

// Wakes the idle claimers of every process working one of `queues` ("" wakes every process).
void notify_wake(pqxx::transaction_base& tx, const std::set<std::string>& queues);

// Writes attempt results, only where the job is still processing, locked by `worker`, on the
// same attempt.
// `backoff` is backoff_table(cfg), computed once by the caller.
void record_results(pqxx::transaction_base& tx, const std::string& worker,
                    const std::vector<AttemptResult>& results, const std::string& backoff);

// What an action did to one job: its status before, and its JSON after when the action changed it
// (empty JSON for a deleted job).
struct ActionRow {
    std::string id;
    JobStatus before = JobStatus::pending;
    std::optional<std::string> changed;
};
// Applies `action` to the jobs `ids` in one statement; one row per job found. A cancel that
// reaches a processing job also notifies every process (conveyor_cancel), at commit.
std::vector<ActionRow> apply_action(pqxx::transaction_base& tx, JobAction action,
                                    const std::vector<std::string>& ids);
// The next page of ids (after `after`, in id order) of the jobs matching `filter`.
std::vector<std::string> bulk_page(pqxx::transaction_base& tx, const BulkFilter& filter,
                                   const std::optional<std::string>& after, int limit);

// Returns running attempts to pending without counting them (graceful shutdown).
int release_attempts(pqxx::transaction_base& tx, const std::string& worker,
                     const std::vector<AttemptRef>& attempts);

// Claims up to `limit` due pending jobs with FOR UPDATE SKIP LOCKED, oldest scheduled first,
// leased for `lease_s` seconds. One statement, committed on its own (autocommit): one round trip
// per claim.
// `scope`: the queues to claim from (none: every queue) and how many more each may take here
// (none: only `limit` bounds it).
struct ClaimScope {
    std::optional<std::vector<std::string>> queues;
    std::vector<std::optional<int>> rooms; // one per queue
};
struct Claimed {
    std::vector<ClaimedJob> jobs;
    std::vector<std::string> limited_queues; // in scope, with a global limit: see claim_limited
};
// From the queues without a global limit (one statement); also names the limited ones in scope.
Claimed claim_jobs(pqxx::transaction_base& tx, const std::string& worker, int limit, int lease_s,
                   const ClaimScope& scope);
// From queues with a global concurrency_limit, exactly under races (conveyor_claim).
std::vector<ClaimedJob> claim_limited(pqxx::transaction_base& tx, const std::string& worker,
                                      int limit, int lease_s, const ClaimScope& scope);

// Milliseconds until the next pending job of `queues` (none: all) becomes due, if any is
// scheduled.
std::optional<long long> ms_until_next_due(pqxx::connection& conn,
                                           const std::optional<std::vector<std::string>>& queues);

// Refreshes heartbeat_at of this worker's running jobs and extends their lease by `lease_s`.
// Returns the ids among them whose cancellation was requested.
std::vector<std::string> heartbeat(pqxx::transaction_base& tx, const std::string& worker,
                                   const std::vector<std::string>& ids, int lease_s);
// Which of `worker`'s running jobs `ids` were asked to stop.
std::vector<std::string> cancel_requested(pqxx::transaction_base& tx, const std::string& worker,
                                          const std::vector<std::string>& ids);

// Returns jobs whose lease expired to pending (with backoff) or failed; answers the queue of each.
std::vector<std::string> reap_lost_jobs(pqxx::transaction_base& tx, const Config& cfg);

// Every queue's jobs by status and oldest due pending age (count_jobs.sql: the /metrics gauges).
std::vector<QueueCounts> count_jobs(pqxx::connection& conn);

std::optional<std::string> get_job_json(pqxx::connection& conn, const std::string& id);
std::optional<std::string> get_job_json(pqxx::transaction_base& tx, const std::string& id);

// A page of jobs as API JSON, newest first, with the cursor of the next page when more exist.
Page list_jobs(pqxx::connection& conn, const ListQuery& q);

void ping(pqxx::connection& conn);

// Queues as API JSON, by name: all of them, or the one named (empty when it does not exist).
std::vector<std::string> list_queues(pqxx::transaction_base& tx,
                                     const std::optional<std::string>& name);
// Creates or changes a queue (see UpdateQueue in actors/messages.hpp).
void update_queue(pqxx::transaction_base& tx, const std::string& name, std::optional<bool> paused,
                  bool set_limit, std::optional<int> limit);

// Events with id > after_id, oldest first (at most `limit`).
std::vector<JobEvent> read_events(pqxx::connection& conn, std::uint64_t after_id, int limit);
// The newest `n` events, oldest first: the retained window a new process starts with.
std::vector<JobEvent> latest_events(pqxx::connection& conn, int n);
// Deletes events older than the newest `keep`; returns how many went.
int prune_events(pqxx::connection& conn, long long keep);

// The retry delays of Config::backoff_after for attempts 1..100 as a PostgreSQL bigint[]
// literal: the statements index it by attempts made, so the formula exists once, in C++.
std::string backoff_table(const Config& cfg);

} // namespace conveyor::store
