// The recorders of src/metrics/metrics.hpp, read back through the exposition (one registry per
// process: each case uses queues of its own).
#include <catch2/catch.hpp>

#include "metrics/metrics.hpp"
#include "support/metrics.hpp"

using namespace conveyor;
using testsupport::metric;

TEST_CASE("metrics recorders: each series counts its own label set") {
    metrics::job_enqueued("u1", "noop");
    metrics::job_enqueued("u1", "noop");
    metrics::job_enqueued("u1", "email");
    metrics::job_enqueued("u2", "noop");
    auto text = metrics::scrape(0);
    CHECK(metric(text, "conveyor_jobs_enqueued_total", {{"queue", "u1"}, {"job_type", "noop"}}) ==
          2);
    CHECK(metric(text, "conveyor_jobs_enqueued_total", {{"queue", "u1"}, {"job_type", "email"}}) ==
          1);
    CHECK(metric(text, "conveyor_jobs_enqueued_total", {{"queue", "u2"}}) == 1);
}

TEST_CASE("metrics recorders: outcomes, durations, cancels, rescues and duplicates") {
    metrics::job_finished("u3", "noop", metrics::Finish::done, 0.002);
    metrics::job_finished("u3", "noop", metrics::Finish::retried, 0.5);
    metrics::job_finished("u3", "noop", metrics::Finish::cancelled, 1.5);
    metrics::job_cancelled("u3", "noop");
    metrics::jobs_rescued("u3", 2);
    metrics::job_deduplicated("u3");
    metrics::job_claimed("u3", -1); // clock skew between hosts: counted as 0
    auto text = metrics::scrape(7);
    auto l = [](const char* outcome) {
        return std::map<std::string, std::string>{
            {"queue", "u3"}, {"job_type", "noop"}, {"outcome", outcome}};
    };
    CHECK(metric(text, "conveyor_jobs_finished_total", l("done")) == 1);
    CHECK(metric(text, "conveyor_jobs_finished_total", l("retried")) == 1);
    CHECK(metric(text, "conveyor_jobs_finished_total", l("cancelled")) == 2);
    // A pending job's cancel has no attempt, so no duration.
    CHECK(metric(text, "conveyor_job_duration_seconds_count", l("cancelled")) == 1);
    CHECK(metric(text, "conveyor_job_duration_seconds_sum", l("retried")) == 0.5);
    auto done_le = l("done");
    done_le["le"] = "0.005";
    CHECK(metric(text, "conveyor_job_duration_seconds_bucket", done_le) == 1);
    CHECK(metric(text, "conveyor_jobs_rescued_total", {{"queue", "u3"}}) == 2);
    CHECK(metric(text, "conveyor_jobs_deduplicated_total", {{"queue", "u3"}}) == 1);
    CHECK(metric(text, "conveyor_job_wait_seconds_sum", {{"queue", "u3"}}) == 0);
    CHECK(metric(text, "conveyor_sse_subscribers") == 7);
}

TEST_CASE("metrics recorders: a queue that vanished from the counts reads 0, not its last value") {
    metrics::set_job_counts({QueueCounts{"u4", 5, 1, 9, 2, 0, 12.5, 1}});
    auto text = metrics::scrape(0);
    CHECK(metric(text, "conveyor_jobs_cancel_requested", {{"queue", "u4"}}) == 1);
    CHECK(metric(text, "conveyor_jobs", {{"queue", "u4"}, {"status", "pending"}}) == 5);
    CHECK(metric(text, "conveyor_jobs", {{"queue", "u4"}, {"status", "done"}}) == 9);
    CHECK(metric(text, "conveyor_queue_oldest_pending_age_seconds", {{"queue", "u4"}}) == 12.5);
    metrics::set_job_counts({});
    text = metrics::scrape(0);
    CHECK(metric(text, "conveyor_jobs", {{"queue", "u4"}}) == 0);
    CHECK(metric(text, "conveyor_queue_oldest_pending_age_seconds", {{"queue", "u4"}}) == 0);
    CHECK(metric(text, "conveyor_jobs_cancel_requested", {{"queue", "u4"}}) == 0);
}

TEST_CASE("metrics recorders: scraped within a window") {
    metrics::scrape(0);
    CHECK(metrics::watched_within(std::chrono::seconds(60)));
}
