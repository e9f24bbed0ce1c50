#pragma once
// The Prometheus metrics of SPEC §11, one set per process (counters are per process; PromQL sums
// them). Recording is a few atomic operations on a series resolved once per label set and cached
// per thread, so the claim/run/write paths never take a lock for a counter. The text exposition
// is prometheus-cpp's (Debian prometheus-cpp-dev, core only); RESTinio serves it.
#include <chrono>
#include <string>
#include <vector>

#include "model/queue_counts.hpp"

namespace conveyor::metrics {

// How an attempt (or a job) ended, the `outcome` label of conveyor_jobs_finished_total.
enum class Finish { done, failed, retried, cancelled };
const char* to_string(Finish f);

// After the insert committed: one job of `queue` and `job_type` was enqueued.
void job_enqueued(const std::string& queue, const std::string& job_type);
// A job was claimed `wait_s` seconds after its scheduled_at.
void job_claimed(const std::string& queue, double wait_s);
// An attempt ended after running `duration_s` seconds.
void job_finished(const std::string& queue, const std::string& job_type, Finish outcome,
                  double duration_s);
// A job was cancelled without an attempt ending (a pending job): counted with outcome
// `cancelled`, no duration. A cancelled running attempt goes through job_finished.
void job_cancelled(const std::string& queue, const std::string& job_type);
// The reaper returned `n` lost jobs of `queue`.
void jobs_rescued(const std::string& queue, int n);
// A submission was answered with the unfinished job holding its unique key.
void job_deduplicated(const std::string& queue);

// A database connection of `role` (writer, reader, ...) died under a statement.
void database_connection_lost(const char* role);
// Opening a database connection of `role` failed (the database down, or not yet promoted).
void database_connect_failed(const char* role);

// Gauges owned by one writer each (a plain atomic store).
void set_worker_running_jobs(int n);
void set_worker_slots(int n);
void set_maintainer(bool holds_lease);

// The database-derived gauges, as the stats sampler last computed them.
void set_job_counts(const std::vector<QueueCounts>& counts);

// The exposition (text format 0.0.4). `sse_subscribers` is read from the broadcaster's counter
// at scrape time. Also marks the metrics as watched (see watched_within()).
std::string scrape(int sse_subscribers);

// Whether scrape() ran within `window`: the sampler queries the database only while someone
// looks, so an unwatched process costs the database nothing.
bool watched_within(std::chrono::steady_clock::duration window);

} // namespace conveyor::metrics
