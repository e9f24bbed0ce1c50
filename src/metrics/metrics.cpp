#include "metrics/metrics.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace conveyor::metrics {

namespace {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;

// From a millisecond no-op to JOB_TIMEOUT_S's maximum and an hour-old backlog.
const Histogram::BucketBoundaries kSecondsBuckets = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};

struct Families {
    prometheus::Registry registry;
    prometheus::Family<Counter>& enqueued =
        prometheus::BuildCounter()
            .Name("conveyor_jobs_enqueued_total")
            .Help("Jobs inserted by this process, by queue and job type")
            .Register(registry);
    prometheus::Family<Counter>& finished =
        prometheus::BuildCounter()
            .Name("conveyor_jobs_finished_total")
            .Help("Attempts that ended in this process: done, failed (for good), retried (a retry "
                  "is scheduled) or cancelled")
            .Register(registry);
    prometheus::Family<Counter>& rescued =
        prometheus::BuildCounter()
            .Name("conveyor_jobs_rescued_total")
            .Help(
                "Lost jobs (lease expired) returned to pending or failed by this process's reaper")
            .Register(registry);
    prometheus::Family<Counter>& deduplicated =
        prometheus::BuildCounter()
            .Name("conveyor_jobs_deduplicated_total")
            .Help("Submissions answered with the unfinished job already holding their unique_key")
            .Register(registry);
    prometheus::Family<Counter>& connections_lost =
        prometheus::BuildCounter()
            .Name("conveyor_database_connections_lost_total")
            .Help("Database connections of this process that died under a statement, by role")
            .Register(registry);
    prometheus::Family<Counter>& connect_failures =
        prometheus::BuildCounter()
            .Name("conveyor_database_connect_failures_total")
            .Help("Failed attempts of this process to open a database connection, by role")
            .Register(registry);
    prometheus::Family<Histogram>& wait =
        prometheus::BuildHistogram()
            .Name("conveyor_job_wait_seconds")
            .Help("Time from a job's scheduled_at to its claim by this process")
            .Register(registry);
    prometheus::Family<Histogram>& duration =
        prometheus::BuildHistogram()
            .Name("conveyor_job_duration_seconds")
            .Help("Run time of attempts in this process, by outcome")
            .Register(registry);
    prometheus::Family<Gauge>& jobs =
        prometheus::BuildGauge()
            .Name("conveyor_jobs")
            .Help("Jobs in the database by queue and status (refreshed every few seconds while "
                  "scraped)")
            .Register(registry);
    prometheus::Family<Gauge>& oldest =
        prometheus::BuildGauge()
            .Name("conveyor_queue_oldest_pending_age_seconds")
            .Help("Age of the oldest due pending job of each queue (0: none waiting)")
            .Register(registry);
    prometheus::Family<Gauge>& cancel_requested =
        prometheus::BuildGauge()
            .Name("conveyor_jobs_cancel_requested")
            .Help("Running jobs of each queue asked to stop whose attempt has not ended yet "
                  "(refreshed with conveyor_jobs)")
            .Register(registry);
    Gauge& running = prometheus::BuildGauge()
                         .Name("conveyor_worker_running_jobs")
                         .Help("Attempts running in this process")
                         .Register(registry)
                         .Add({});
    Gauge& slots = prometheus::BuildGauge()
                       .Name("conveyor_worker_slots")
                       .Help("WORKER_CONCURRENCY of this process")
                       .Register(registry)
                       .Add({});
    Gauge& subscribers = prometheus::BuildGauge()
                             .Name("conveyor_sse_subscribers")
                             .Help("Open GET /events streams of this process")
                             .Register(registry)
                             .Add({});
    Gauge& maintainer =
        prometheus::BuildGauge()
            .Name("conveyor_maintainer")
            .Help("1 in the process that holds the maintainer lease (reaper, cleaner, "
                  "schedules)")
            .Register(registry)
            .Add({});

    std::mutex counts_mutex;       // set_job_counts (one sampler) against itself
    std::set<std::string> counted; // queues given counts so far: vanished ones are set to 0
    std::atomic<long long> last_scrape_ns{0};
};

Families& families() {
    static Families f;
    return f;
}

// The series of one family for one label set, resolved through Family::Add (a lock and a
// label-map lookup) once per thread and label set. A thread mostly records the same series
// again (one queue and type under load), so the last one is remembered before the table.
template <typename Series> struct SeriesCache {
    std::unordered_map<std::string, Series> table;
    std::string last_key;
    Series last{};

    template <typename Make> const Series& get(const std::string& key, Make make) {
        if (last_key == key && !last_key.empty())
            return last;
        auto it = table.find(key);
        if (it == table.end())
            it = table.emplace(key, make()).first;
        last_key = key;
        last = it->second;
        return last;
    }
};

template <typename T, typename Labels, typename... Args>
T& series(SeriesCache<T*>& cache, prometheus::Family<T>& family, const std::string& key,
          Labels labels, const Args&... args) {
    return *cache.get(key, [&] { return &family.Add(labels(), args...); });
}

} // namespace

const char* to_string(Finish f) {
    switch (f) {
    case Finish::done:
        return "done";
    case Finish::failed:
        return "failed";
    case Finish::retried:
        return "retried";
    case Finish::cancelled:
        return "cancelled";
    }
    return "done";
}

void job_enqueued(const std::string& queue, const std::string& job_type) {
    thread_local SeriesCache<Counter*> cache;
    thread_local std::string key;
    key.assign(queue).append(1, '\n').append(job_type);
    series(cache, families().enqueued, key, [&] {
        return prometheus::Labels{{"queue", queue}, {"job_type", job_type}};
    }).Increment();
}

void job_claimed(const std::string& queue, double wait_s) {
    thread_local SeriesCache<Histogram*> cache;
    series(
        cache, families().wait, queue,
        [&] {
            return prometheus::Labels{{"queue", queue}};
        },
        kSecondsBuckets)
        .Observe(wait_s < 0 ? 0 : wait_s);
}

void job_finished(const std::string& queue, const std::string& job_type, Finish outcome,
                  double duration_s) {
    // The counter and the histogram of one label set, resolved together.
    struct Pair {
        Counter* finished = nullptr;
        Histogram* duration = nullptr;
    };
    thread_local SeriesCache<Pair> cache;
    thread_local std::string key;
    key.assign(queue).append(1, '\n').append(job_type).append(1, '0' + static_cast<int>(outcome));
    const Pair& p = cache.get(key, [&] {
        prometheus::Labels labels{
            {"queue", queue}, {"job_type", job_type}, {"outcome", to_string(outcome)}};
        return Pair{&families().finished.Add(labels),
                    &families().duration.Add(labels, kSecondsBuckets)};
    });
    p.finished->Increment();
    p.duration->Observe(duration_s);
}

void job_cancelled(const std::string& queue, const std::string& job_type) {
    families()
        .finished.Add({{"queue", queue}, {"job_type", job_type}, {"outcome", "cancelled"}})
        .Increment();
}

void jobs_rescued(const std::string& queue, int n) {
    families().rescued.Add({{"queue", queue}}).Increment(n);
}

void job_deduplicated(const std::string& queue) {
    thread_local SeriesCache<Counter*> cache;
    series(cache, families().deduplicated, queue, [&] {
        return prometheus::Labels{{"queue", queue}};
    }).Increment();
}

void database_connection_lost(const char* role) {
    families().connections_lost.Add({{"role", role}}).Increment();
}

void database_connect_failed(const char* role) {
    families().connect_failures.Add({{"role", role}}).Increment();
}

void set_worker_running_jobs(int n) {
    families().running.Set(n);
}

void set_worker_slots(int n) {
    families().slots.Set(n);
}

void set_maintainer(bool holds_lease) {
    families().maintainer.Set(holds_lease ? 1 : 0);
}

void set_job_counts(const std::vector<QueueCounts>& counts) {
    auto& f = families();
    std::lock_guard<std::mutex> lock(f.counts_mutex);
    std::set<std::string> seen;
    for (const auto& c : counts) {
        seen.insert(c.queue);
        const std::pair<const char*, long long> by_status[] = {{"pending", c.pending},
                                                               {"processing", c.processing},
                                                               {"done", c.done},
                                                               {"failed", c.failed},
                                                               {"cancelled", c.cancelled}};
        for (const auto& [status, n] : by_status)
            f.jobs.Add({{"queue", c.queue}, {"status", status}}).Set(static_cast<double>(n));
        f.oldest.Add({{"queue", c.queue}}).Set(c.oldest_pending_age_s);
        f.cancel_requested.Add({{"queue", c.queue}}).Set(static_cast<double>(c.cancel_requested));
    }
    // A queue whose jobs were all deleted keeps its series, at zero, rather than its last value.
    for (const auto& q : f.counted)
        if (!seen.count(q)) {
            for (const char* status : {"pending", "processing", "done", "failed", "cancelled"})
                f.jobs.Add({{"queue", q}, {"status", status}}).Set(0);
            f.oldest.Add({{"queue", q}}).Set(0);
            f.cancel_requested.Add({{"queue", q}}).Set(0);
        }
    f.counted.insert(seen.begin(), seen.end());
}

std::string scrape(int sse_subscribers) {
    auto& f = families();
    f.last_scrape_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    f.subscribers.Set(sse_subscribers);
    return prometheus::TextSerializer().Serialize(f.registry.Collect());
}

bool watched_within(std::chrono::steady_clock::duration window) {
    auto last = families().last_scrape_ns.load();
    if (last == 0)
        return false;
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return now - last <=
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(window).count();
}

} // namespace conveyor::metrics
