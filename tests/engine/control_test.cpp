// Controlling jobs (README "Controlling jobs", SPEC §9): cancel (also of a running job, also
// from another process), retry, delete, bulk actions and unique keys, through real processes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "support/api.hpp"
#include "support/fake_http_server.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;

namespace {

HttpResponse post(const ServerProcess& s, const std::string& path, const json& body = json()) {
    return http("POST", s.base_url() + path, body.is_null() ? "" : body.dump(),
                {"Content-Type: application/json"}, 60000);
}

const json kLater = {{"job_type", "noop"}, {"run_at", "2099-01-01T00:00:00Z"}};

} // namespace

TEST_CASE("cancel, retry and delete of one job answer as the contract says") {
    Api api;
    auto id = submit(api.server, kLater);

    auto r = post(api.server, "/jobs/" + id + "/cancel");
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "cancelled");
    CHECK(r.json()["finished_at"].is_string());
    CHECK(post(api.server, "/jobs/" + id + "/cancel").status == 200); // already cancelled

    r = post(api.server, "/jobs/" + id + "/retry");
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "pending");
    CHECK(r.json()["finished_at"].is_null());
    r = post(api.server, "/jobs/" + id + "/retry"); // pending: not retryable
    check_error(r, 409, "conflict");
    CHECK(r.json()["status"] == "pending");

    SseClient events(api.url("/events?job_id=" + id));
    REQUIRE(wait_until([&] { return events.raw().find("retry:") != std::string::npos; },
                       std::chrono::seconds(10)));
    r = http("DELETE", api.url("/jobs/" + id));
    CHECK(r.status == 204);
    CHECK(r.body.empty());
    check_error(http_get(api.url("/jobs/" + id)), 404, "not_found");
    check_error(http("DELETE", api.url("/jobs/" + id)), 404, "not_found");
    REQUIRE(wait_until(
        [&] {
            for (const auto& e : events.events())
                if (e.event == "deleted")
                    return true;
            return false;
        },
        std::chrono::seconds(10)));
    for (const auto& e : events.events())
        if (e.event == "deleted")
            CHECK(json::parse(e.data)["id"] == id);

    // A finished job cannot be cancelled; a malformed id is a 400; an unknown one a 404.
    auto done = submit(api.server, {{"job_type", "noop"}});
    wait_for_status(api.server, done, "done");
    r = post(api.server, "/jobs/" + done + "/cancel");
    check_error(r, 409, "conflict");
    CHECK(r.json()["status"] == "done");
    check_error(post(api.server, "/jobs/" + done + "/retry"), 409, "conflict");
    check_error(post(api.server, "/jobs/not-a-uuid/cancel"), 400, "invalid_id");
    check_error(post(api.server, "/jobs/01a2348e-196a-7000-8cee-ff7530b861b7/retry"), 404,
                "not_found");
    CHECK(http_get(api.url("/jobs/cancel")).status == 405);
}

TEST_CASE("a failed job retried by hand runs again and ends done") {
    TestDatabase db;
    auto s = start_testd(db);
    auto id = submit(*s, {{"job_type", "test"},
                          {"payload", {{"fail", "permanent"}, {"fail_attempts", 1}}},
                          {"max_attempts", 1}});
    wait_for_status(*s, id, "failed");
    auto r = post(*s, "/jobs/" + id + "/retry");
    REQUIRE(r.status == 200);
    CHECK(r.json()["max_attempts"] == 2); // used up: raised to attempts + 1
    auto job = wait_for_status(*s, id, "done");
    CHECK(job["attempts"] == 2);
    CHECK(job["last_error"].get<std::string>().find("test failure on attempt 1") !=
          std::string::npos); // kept as history
}

TEST_CASE("cancelling a running webhook job closes its connection and frees the slot") {
    // The sink holds every request for 30 s: only the cancel can end the attempt early.
    FakeHttpServer sink([](const Request&, int) {
        Response r(200, "late");
        r.delay_ms = 30000;
        return r;
    });
    TestDatabase db;
    // A runs the job; B never claims (it works another queue) and gets the cancel request.
    auto a = start_service(conveyor_binary(), db, {{"WORKER_CONCURRENCY", "1"}});
    auto b = start_service(conveyor_binary(), db, {{"QUEUES", "elsewhere"}});
    auto id = submit(*a, {{"job_type", "webhook"},
                          {"payload", {{"url", sink.url("/hold")}, {"timeout_ms", 60000}}},
                          {"max_attempts", 5}});
    wait_for_status(*a, id, "processing");
    REQUIRE(wait_until([&] { return sink.request_count() == 1; }, std::chrono::seconds(10)));

    auto r = post(*b, "/jobs/" + id + "/cancel");
    REQUIRE(r.status == 202);
    CHECK(r.json()["status"] == "processing");
    auto job = wait_for_status(*a, id, "cancelled", 10);
    CHECK(job["attempts"] == 1); // never retried
    CHECK(job["finished_at"].is_string());
    CHECK(job["last_error"].get<std::string>().rfind("cancelled", 0) == 0);
    // The one slot is free again: another job runs.
    auto next = submit(*a, {{"job_type", "noop"}});
    wait_for_status(*a, next, "done", 10);
    CHECK(sink.request_count() == 1);
}

TEST_CASE("cancels racing completions end done or cancelled, never run after a cancel") {
    Api api;
    std::vector<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        auto id = submit(api.server, {{"job_type", "noop"}});
        auto r = post(api.server, "/jobs/" + id + "/cancel");
        INFO(r.status << " " << r.body);
        REQUIRE((r.status == 200 || r.status == 202 || r.status == 409));
        ids.push_back(id);
    }
    REQUIRE(wait_until(
        [&] {
            return api.db.count(
                       "SELECT count(*) FROM jobs WHERE status IN ('done', 'cancelled')") == 1000;
        },
        std::chrono::seconds(30)));
    // A cancelled job's attempt (if it started) did not succeed: done and cancelled never mix.
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE status = 'cancelled' AND attempts > 0 AND "
                       "last_error IS NULL") == 0);
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE status = 'cancelled' AND finished_at IS "
                       "NULL") == 0);
}

TEST_CASE("bulk actions by ids and by filter count what they matched and changed") {
    Api api;
    auto ids = submit_copies(
        api.server, {{"job_type", "noop"}, {"queue", "bulk"}, {"run_at", "2099-01-01T00:00:00Z"}},
        2500);
    auto kept = submit(api.server, kLater); // another queue: untouched

    auto r = post(api.server, "/jobs/cancel", {{"filter", {{"queue", "bulk"}}}});
    REQUIRE(r.status == 200);
    CHECK(r.json() == json{{"matched", 2500}, {"changed", 2500}});
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE status = 'cancelled'") == 2500);
    CHECK(status_of(api.server, kept) == "pending");
    // Each changed job is an event.
    CHECK(api.db.count("SELECT count(*) FROM job_events WHERE status = 'cancelled'") == 2500);

    json some = json::array();
    for (int i = 0; i < 10; ++i)
        some.push_back(ids[static_cast<size_t>(i)]);
    some.push_back(kept); // pending: matched, not changed
    r = post(api.server, "/jobs/retry", {{"ids", some}});
    REQUIRE(r.status == 200);
    CHECK(r.json() == json{{"matched", 11}, {"changed", 10}});

    r = post(api.server, "/jobs/delete", {{"filter", {{"status", "cancelled"}}}});
    REQUIRE(r.status == 200);
    CHECK(r.json() == json{{"matched", 2490}, {"changed", 2490}});
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 11);
    CHECK(api.db.count("SELECT count(*) FROM job_events WHERE kind = 'deleted'") == 2490);
}

TEST_CASE("bulk bodies that are not one of ids or filter are refused and change nothing") {
    Api api;
    auto id = submit(api.server, kLater);
    json too_many = json::array();
    for (int i = 0; i < 1001; ++i)
        too_many.push_back(id);
    const std::vector<std::pair<json, std::string>> bad = {
        {json::object(), "invalid_bulk"},
        {{{"ids", {id}}, {"filter", {{"queue", "default"}}}}, "invalid_bulk"},
        {{{"ids", json::array()}}, "invalid_ids"},
        {{{"ids", too_many}}, "invalid_ids"},
        {{{"ids", {"nope"}}}, "invalid_ids"},
        {{{"ids", {42}}}, "invalid_ids"},
        {{{"filter", json::object()}}, "invalid_filter"},
        {{{"filter", {{"colour", "red"}}}}, "unknown_field"},
        {{{"filter", {{"status", "asleep"}}}}, "invalid_filter"},
        {{{"filter", {{"queue", "Bad Name"}}}}, "invalid_filter"},
        {{{"filter", {{"status", 3}}}}, "invalid_filter"},
        {{{"ids", {id}}, {"dry_run", true}}, "unknown_field"},
    };
    for (const auto& [body, code] : bad) {
        INFO(body.dump().substr(0, 200));
        check_error(post(api.server, "/jobs/cancel", body), 422, code);
    }
    check_error(http("POST", api.url("/jobs/cancel"), "{", {"Content-Type: application/json"}), 400,
                "malformed_json");
    CHECK(status_of(api.server, id) == "pending");
}

TEST_CASE("unique keys: one unfinished job per key across processes, free again once finished") {
    TestDatabase db;
    auto a = start_service(conveyor_binary(), db);
    auto b = start_service(conveyor_binary(), db);
    std::atomic<int> created{0}, duplicates{0}, other{0};
    std::vector<std::thread> clients;
    // 2 processes × 500 submissions of 50 keys, from 10 concurrent clients.
    for (int t = 0; t < 10; ++t)
        clients.emplace_back([&, t] {
            const auto& s = t % 2 ? *a : *b;
            for (int i = 0; i < 100; ++i) {
                json job = kLater;
                job["unique_key"] = "key-" + std::to_string((i + t) % 50);
                auto r = http_post_json(s.base_url() + "/jobs", job.dump());
                if (r.status == 201)
                    ++created;
                else if (r.status == 200 && r.json()["duplicate"] == true)
                    ++duplicates;
                else
                    ++other;
            }
        });
    for (auto& c : clients)
        c.join();
    CHECK(other == 0);
    CHECK(created == 50);
    CHECK(duplicates == 1000 - 50);
    CHECK(db.count("SELECT count(*) FROM jobs") == 50);

    // In a batch: the duplicate in its place, the rest inserted; a key twice is a 422.
    auto r = http(
        "POST", a->base_url() + "/jobs/batch",
        json{{"jobs",
              {{{"job_type", "noop"}, {"unique_key", "key-1"}, {"run_at", "2099-01-01T00:00:00Z"}},
               {{"job_type", "noop"}, {"unique_key", "fresh"}}}}}
            .dump(),
        {"Content-Type: application/json"});
    REQUIRE(r.status == 201);
    CHECK(r.json()[0]["duplicate"] == true);
    CHECK_FALSE(r.json()[1].contains("duplicate"));
    check_error(http("POST", a->base_url() + "/jobs/batch",
                     json{{"jobs",
                           {{{"job_type", "noop"}, {"unique_key", "x"}},
                            {{"job_type", "noop"}, {"unique_key", "x"}}}}}
                         .dump(),
                     {"Content-Type: application/json"}),
                422, "invalid_unique_key");
    CHECK(http_get(a->base_url() + "/jobs?unique_key=key-3").json().size() == 1);

    // Finished (here: cancelled), a key is free again.
    REQUIRE(post(*a, "/jobs/cancel", {{"filter", {{"status", "pending"}}}}).status == 200);
    json again = kLater;
    again["unique_key"] = "key-3";
    CHECK(http_post_json(a->base_url() + "/jobs", again.dump()).status == 201);
    again["unique_key"] = std::string(256, 'k');
    check_error(http_post_json(a->base_url() + "/jobs", again.dump()), 422, "invalid_unique_key");
    again["unique_key"] = 7;
    check_error(http_post_json(a->base_url() + "/jobs", again.dump()), 422, "invalid_unique_key");
}

TEST_CASE("cancelled, manual-retry and deleted events reach the streams of another process") {
    TestDatabase db;
    auto a = start_service(conveyor_binary(), db);
    auto b = start_service(conveyor_binary(), db);
    auto id = submit(*a, kLater);
    SseClient events(b->base_url() + "/events?job_id=" + id);
    REQUIRE(wait_until([&] { return events.raw().find("retry:") != std::string::npos; },
                       std::chrono::seconds(10)));
    REQUIRE(post(*a, "/jobs/" + id + "/cancel").status == 200);
    REQUIRE(post(*a, "/jobs/" + id + "/retry").status == 200);
    REQUIRE(http("DELETE", a->base_url() + "/jobs/" + id).status == 204);
    std::vector<std::string> seen;
    REQUIRE(wait_until(
        [&] {
            seen.clear();
            for (const auto& e : events.events()) {
                auto data = json::parse(e.data);
                CHECK(data["id"] == id);
                seen.push_back(e.event == "deleted" ? "deleted"
                                                    : data["status"].get<std::string>());
            }
            return !seen.empty() && seen.back() == "deleted";
        },
        std::chrono::seconds(10)));
    // The submission's own `pending` may come first: B can learn of it after the stream opened.
    if (seen.size() == 4 && seen.front() == "pending")
        seen.erase(seen.begin());
    CHECK(seen == std::vector<std::string>{"cancelled", "pending", "deleted"});
}

TEST_CASE("a bulk cancel of 100,000 jobs by filter leaves claims running in other queues") {
    Api api;
    const int kBulk = 100000;
    submit_copies(api.server,
                  {{"job_type", "noop"}, {"queue", "bulk"}, {"run_at", "2099-01-01T00:00:00Z"}},
                  kBulk);
    // Another queue drains throughout: a feeder keeps it supplied (bounded: at most 2 minutes
    // and 400 batches).
    std::atomic<bool> stop{false};
    std::thread feeder([&] {
        json batch = {{"jobs", std::vector<json>(500, {{"job_type", "noop"}, {"queue", "live"}})}};
        auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
        for (int i = 0; i < 400 && !stop && std::chrono::steady_clock::now() < until; ++i) {
            http("POST", api.url("/jobs/batch"), batch.dump(), {"Content-Type: application/json"},
                 30000);
            while (!stop && api.db.count("SELECT count(*) FROM jobs WHERE queue = 'live' AND "
                                         "status = 'pending'") > 2000)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    auto done_live = [&] {
        return api.db.count("SELECT count(*) FROM jobs WHERE queue = 'live' AND status = 'done'");
    };
    REQUIRE(wait_until([&] { return done_live() > 0; }, std::chrono::seconds(30)));

    // Progress of the live queue, sampled every 50 ms while the bulk action runs.
    std::atomic<bool> bulk_done{false};
    std::vector<std::pair<double, long long>> samples;
    std::thread sampler([&] {
        auto t0 = std::chrono::steady_clock::now();
        while (!bulk_done) {
            double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            samples.emplace_back(t, done_live());
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    auto started = std::chrono::steady_clock::now();
    auto r = http("POST", api.url("/jobs/cancel"), json{{"filter", {{"queue", "bulk"}}}}.dump(),
                  {"Content-Type: application/json"}, 300000);
    double bulk_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    bulk_done = true;
    sampler.join();
    stop = true;
    feeder.join();

    INFO(r.status << " " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json() == json{{"matched", kBulk}, {"changed", kBulk}});
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE queue = 'bulk' AND status = 'cancelled'") ==
          kBulk);
    REQUIRE(samples.size() >= 2);
    long long during = samples.back().second - samples.front().second;
    double longest_stall = 0, since = samples.front().first;
    for (size_t i = 1; i < samples.size(); ++i) {
        if (samples[i].second != samples[i - 1].second)
            since = samples[i].first;
        longest_stall = std::max(longest_stall, samples[i].first - since);
    }
    // Figures for the README (not asserted: timing belongs to bench/).
    std::printf(
        "bulk cancel of %d jobs: %.2f s (%.0f jobs/s); live queue meanwhile: %lld jobs done "
        "(%.0f/s), longest stall %.2f s\n",
        kBulk, bulk_s, kBulk / bulk_s, during, static_cast<double>(during) / bulk_s, longest_stall);
    CHECK(during > 0); // claims went on while the action ran
}
