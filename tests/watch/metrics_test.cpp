// GET /metrics over real HTTP: the families of SPEC §11 count what the service did, with
// queue/job_type/outcome/status labels; database gauges come from the sampler, not the scrape.
#include <catch2/catch.hpp>

#include "support/api.hpp"
#include "support/metrics.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using Env = std::map<std::string, std::string>;

namespace {

HttpResponse post(const ServerProcess& s, const std::string& path, const json& body = json()) {
    return http("POST", s.base_url() + path, body.is_null() ? "" : body.dump(),
                {"Content-Type: application/json"});
}

// Waits (bounded) until the scraped `name{labels}` equals `want`; returns the last text.
std::string wait_metric(const ServerProcess& s, const std::string& name,
                        const std::map<std::string, std::string>& labels, double want) {
    std::string text;
    bool reached = wait_until(
        [&] {
            text = scrape(s.base_url());
            return metric(text, name, labels) == want;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(100));
    INFO(name << " never became " << want << "; last scrape:\n" << text);
    REQUIRE(reached);
    return text;
}

} // namespace

TEST_CASE("metrics: the exposition is Prometheus text with every family of the contract") {
    Api api;
    wait_for_status(api.server,
                    submit(api.server, {{"job_type", "noop"}, {"payload", json::object()}}),
                    "done");
    // Families appear with their first series; the database gauges with the first sample.
    wait_metric(api.server, "conveyor_jobs", {{"queue", "default"}, {"status", "done"}}, 1);
    auto r = http_get(api.url("/metrics"));
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
    for (const char* family :
         {"conveyor_jobs_enqueued_total", "conveyor_jobs_finished_total", "conveyor_jobs",
          "conveyor_job_wait_seconds", "conveyor_job_duration_seconds",
          "conveyor_queue_oldest_pending_age_seconds", "conveyor_worker_running_jobs",
          "conveyor_worker_slots", "conveyor_sse_subscribers", "conveyor_maintainer"})
        CHECK(r.body.find(std::string("# TYPE ") + family + " ") != std::string::npos);
    CHECK(metric(r.body, "conveyor_worker_slots") == 10);
    CHECK(metric(r.body, "conveyor_maintainer") == 1);
    // No job id ever becomes a label.
    CHECK(r.body.find("id=\"") == std::string::npos);
}

TEST_CASE("metrics: jobs enqueued and finished are counted by queue, type and outcome") {
    TestDatabase db;
    auto s = start_testd(db, {{"BACKOFF_BASE_MS", "10"}});
    auto done = submit(*s, {{"job_type", "test"}, {"payload", json::object()}, {"queue", "m1"}});
    auto failed =
        submit(*s, {{"job_type", "test"}, {"payload", {{"fail", "permanent"}}}, {"queue", "m1"}});
    auto retried = submit(*s, {{"job_type", "test"},
                               {"payload", {{"fail", "transient"}, {"fail_attempts", 1}}},
                               {"queue", "m1"}});
    for (const auto& id : {done, retried})
        wait_for_status(*s, id, "done");
    wait_for_status(*s, failed, "failed");
    const std::map<std::string, std::string> m1{{"queue", "m1"}, {"job_type", "test"}};
    auto text = scrape(s->base_url());
    CHECK(metric(text, "conveyor_jobs_enqueued_total", m1) == 3);
    auto with = [&](const char* outcome) {
        auto l = m1;
        l["outcome"] = outcome;
        return l;
    };
    CHECK(metric(text, "conveyor_jobs_finished_total", with("done")) == 2);
    CHECK(metric(text, "conveyor_jobs_finished_total", with("failed")) == 1);
    CHECK(metric(text, "conveyor_jobs_finished_total", with("retried")) == 1);
    CHECK(metric(text, "conveyor_job_duration_seconds_count", with("done")) == 2);
    // Four claims: three first attempts and the retry.
    CHECK(metric(text, "conveyor_job_wait_seconds_count", {{"queue", "m1"}}) == 4);
    CHECK(metric(text, "conveyor_job_wait_seconds_bucket", {{"queue", "m1"}, {"le", "+Inf"}}) == 4);
}

TEST_CASE("metrics: job counts by queue and status come from the database, refreshed") {
    Api api;
    REQUIRE(http("POST", api.url("/queues/held/pause")).status == 200);
    for (int i = 0; i < 3; ++i)
        submit(api.server, {{"job_type", "noop"}, {"payload", json::object()}, {"queue", "held"}});
    auto text =
        wait_metric(api.server, "conveyor_jobs", {{"queue", "held"}, {"status", "pending"}}, 3);
    CHECK(metric(text, "conveyor_jobs", {{"queue", "held"}, {"status", "done"}}) == 0);
    CHECK(metric(text, "conveyor_queue_oldest_pending_age_seconds", {{"queue", "held"}}) >= 0);
    REQUIRE(http("POST", api.url("/queues/held/resume")).status == 200);
    wait_metric(api.server, "conveyor_jobs", {{"queue", "held"}, {"status", "done"}}, 3);
}

TEST_CASE("metrics: cancels of pending jobs count as finished, pending cancels of running ones "
          "as a gauge") {
    TestDatabase db;
    auto s = start_testd(db);
    REQUIRE(http("POST", s->base_url() + "/queues/mc/pause").status == 200);
    std::vector<std::string> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(
            submit(*s, {{"job_type", "test"}, {"payload", json::object()}, {"queue", "mc"}}));
    REQUIRE(post(*s, "/jobs/" + held[0] + "/cancel").status == 200);
    REQUIRE(post(*s, "/jobs/cancel", {{"ids", {held[1], held[2]}}}).status == 200);
    const std::map<std::string, std::string> cancelled{
        {"queue", "mc"}, {"job_type", "test"}, {"outcome", "cancelled"}};
    auto text = scrape(s->base_url());
    CHECK(metric(text, "conveyor_jobs_finished_total", cancelled) == 3);
    // No attempt ran: no duration series.
    CHECK(metric(text, "conveyor_job_duration_seconds_count", cancelled) == std::nullopt);
    // The test handler ignores the cancel flag: the job stays processing, asked to stop, until
    // its sleep ends (then done: it succeeded). Long enough for the sampler (every 5 s) to see it.
    auto running =
        submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 12000}}}, {"queue", "mc-run"}});
    wait_for_status(*s, running, "processing");
    REQUIRE(post(*s, "/jobs/" + running + "/cancel").status == 202);
    wait_metric(*s, "conveyor_jobs_cancel_requested", {{"queue", "mc-run"}}, 1);
    wait_for_status(*s, running, "done", 30);
    wait_metric(*s, "conveyor_jobs_cancel_requested", {{"queue", "mc-run"}}, 0);
}

TEST_CASE("metrics: open SSE streams and running jobs are gauges of this process") {
    TestDatabase db;
    // A closed stream is noticed at its next write: keep-alives every second.
    auto s = start_testd(db, {{"SSE_KEEPALIVE_S", "1"}});
    SseClient stream(s->base_url() + "/events");
    REQUIRE(wait_until([&] { return stream.raw().find("retry:") != std::string::npos; },
                       std::chrono::seconds(10)));
    wait_metric(*s, "conveyor_sse_subscribers", {}, 1);
    auto id = submit(*s, {{"job_type", "test"}, {"payload", {{"sleep_ms", 3000}}}});
    wait_for_status(*s, id, "processing");
    wait_metric(*s, "conveyor_worker_running_jobs", {}, 1);
    stream.stop();
    wait_metric(*s, "conveyor_sse_subscribers", {}, 0);
}

TEST_CASE("metrics: jobs rescued by the reaper are counted by queue") {
    Api api(Env{{"REAPER_INTERVAL_S", "1"}});
    // A job whose owner vanished: processing, its lease long expired.
    api.db.exec(
        "INSERT INTO jobs (id, job_type, queue, payload, status, attempts, locked_by, "
        "heartbeat_at, lease_expires_at, processing_started_at) VALUES "
        "(gen_random_uuid(), 'noop', 'lost', '{}', 'processing', 1, 'ghost', "
        "now() - interval '1 hour', now() - interval '1 minute', now() - interval '1 hour')");
    wait_metric(api.server, "conveyor_jobs_rescued_total", {{"queue", "lost"}}, 1);
}

TEST_CASE("metrics: a failing count query keeps the last gauges and is logged once") {
    Api api;
    submit(api.server, {{"job_type", "noop"}, {"payload", json::object()}});
    wait_metric(api.server, "conveyor_jobs", {{"queue", "default"}, {"status", "done"}}, 1);
    // The sampler's connection dies: its next count fails, then it reconnects.
    api.db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'conveyor:stats'");
    REQUIRE(wait_until([&] { return api.server.log_contains("job counts for /metrics failed"); },
                       std::chrono::seconds(20)));
    auto text = scrape(api.server.base_url());
    CHECK(metric(text, "conveyor_jobs", {{"queue", "default"}, {"status", "done"}}) == 1);
    submit(api.server, {{"job_type", "noop"}, {"payload", json::object()}});
    wait_metric(api.server, "conveyor_jobs", {{"queue", "default"}, {"status", "done"}}, 2);
}

TEST_CASE("metrics: with API_TOKEN set a scrape needs the token") {
    Api api(Env{{"API_TOKEN", "scrape-token-123"}});
    CHECK(http_get(api.url("/metrics")).status == 401);
    auto r = http_get(api.url("/metrics"), {"Authorization: Bearer scrape-token-123"});
    CHECK(r.status == 200);
    CHECK(metric(r.body, "conveyor_worker_slots") == 10);
}
