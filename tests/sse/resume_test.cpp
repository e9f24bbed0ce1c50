// Resuming with a Last-Event-ID the server cannot replay: the client is told to refetch, then
// stays live, and the reset frame's id is where a reconnecting EventSource resumes.
#include <catch2/catch.hpp>

#include "support/api.hpp"
#include "support/env.hpp"
#include "support/sse_client.hpp"

using namespace testsupport;
using std::chrono::seconds;

namespace {

void submit_noop(const Api& api) {
    auto r = http_post_json(api.url("/jobs"), R"({"job_type":"noop"})");
    REQUIRE(r.status == 201);
}

// Waits for the stream's first event, which must be a reset; returns it.
SseEvent first_reset(const SseClient& sse) {
    REQUIRE(wait_until([&] { return sse.count() >= 1; }, seconds(10)));
    auto e = sse.events().front();
    CHECK(e.event == "reset");
    return e;
}

bool has_job_event_after(const SseClient& sse, std::uint64_t id) {
    for (const auto& e : sse.events())
        if (e.event == "job" && std::stoull(e.id) > id)
            return true;
    return false;
}

// Submits a job and waits until `observer` saw its three events: by then the server's
// broadcaster holds every event committed before them.
void submit_and_see(const Api& api, const SseClient& observer) {
    // The first bytes of a stream ("retry: …") come once it is subscribed.
    REQUIRE(wait_until([&] { return observer.raw().find("retry:") != std::string::npos; },
                       seconds(10)));
    auto before = observer.count();
    submit_noop(api);
    REQUIRE(wait_until([&] { return observer.count() >= before + 3; }, seconds(10)));
}

std::uint64_t newest_event(const Api& api) {
    return static_cast<std::uint64_t>(api.db.count("SELECT coalesce(max(id), 0) FROM job_events"));
}

} // namespace

TEST_CASE("after a reset for an id ahead of the log, the stream carries live events") {
    Api api;
    SseClient observer(api.url("/events"));
    submit_and_see(api, observer);
    SseClient sse(api.url("/events"), {"Last-Event-ID: 999999"});
    auto reset = first_reset(sse);
    // The frame carries the head as its id, so a browser reconnects from there.
    REQUIRE_FALSE(reset.id.empty());
    auto head = std::stoull(reset.id);
    CHECK(head == newest_event(api));
    submit_noop(api);
    CHECK(wait_until([&] { return has_job_event_after(sse, head); }, seconds(10)));
}

TEST_CASE("an id older than the retained window gets a reset, then live events") {
    Api api;
    // More history than the in-memory window (10,000 events) holds: a second process loads only
    // the newest part at start-up.
    api.db.exec("INSERT INTO job_events (job_id, job_type, status, data) SELECT gen_random_uuid(),"
                " 'noop', 'done', '{}' FROM generate_series(1, 10050)");
    auto second = start_service(conveyor_binary(), api.db);
    // The second process loads its window at start; once it relays a new job's events, it has.
    SseClient observer(second->base_url() + "/events");
    submit_and_see(api, observer);
    SseClient sse(second->base_url() + "/events", {"Last-Event-ID: 5"});
    auto reset = first_reset(sse);
    CHECK(std::stoull(reset.id) == newest_event(api));
    submit_noop(api);
    CHECK(wait_until([&] { return has_job_event_after(sse, std::stoull(reset.id)); }, seconds(10)));
}

TEST_CASE("reconnecting with the reset frame's id resumes without another reset") {
    Api api;
    std::string resume_at;
    {
        SseClient sse(api.url("/events"), {"Last-Event-ID: 999999"});
        resume_at = first_reset(sse).id;
    }
    // Events committed while the client was away are replayed on reconnect, as EventSource does.
    submit_noop(api);
    REQUIRE(
        wait_until([&] { return newest_event(api) >= std::stoull(resume_at) + 3; }, seconds(10)));
    SseClient again(api.url("/events"), {"Last-Event-ID: " + resume_at});
    REQUIRE(wait_until([&] { return again.count() >= 3; }, seconds(10)));
    for (const auto& e : again.events())
        CHECK(e.event == "job");
    CHECK(has_job_event_after(again, std::stoull(resume_at)));
}
