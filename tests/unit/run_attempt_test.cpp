#include <thread>

#include <catch2/catch.hpp>

#include "actors/executor.hpp"
#include "store/queries.hpp"

using namespace conveyor;
using clock_type = std::chrono::steady_clock;

namespace {

// A handler whose behaviour the test sets: what it returns, whether it throws, how long it runs.
class Scripted final : public Handler {
  public:
    HandlerResult result = HandlerResult::ok();
    bool throws = false;
    std::chrono::milliseconds runs_for{0};
    std::optional<std::string> refuse;

    std::optional<std::string> validate(const nlohmann::json&) const override { return refuse; }
    HandlerResult run(const nlohmann::json&, const HandlerContext&) const override {
        std::this_thread::sleep_for(runs_for);
        if (throws)
            throw std::runtime_error("boom");
        return result;
    }
};

ClaimedJob job(std::string payload = "{}") {
    return ClaimedJob{
        "00000000-0000-7000-8000-000000000000", "scripted", "default", std::move(payload), 1, 3};
}

HandlerResult run(const Handler* h, const ClaimedJob& j = job(),
                  clock_type::duration budget = std::chrono::seconds(10)) {
    return run_attempt(Config{}, h, j, clock_type::now() + budget);
}

} // namespace

TEST_CASE("run_attempt: an unknown job type or a bad payload fails permanently") {
    auto unknown = run(nullptr);
    CHECK(unknown.outcome == Outcome::permanent);
    CHECK(unknown.message == "unknown job_type 'scripted'");
    Scripted h;
    auto not_object = run(&h, job("[1]"));
    CHECK(not_object.outcome == Outcome::permanent);
    CHECK(not_object.message == "payload must be a JSON object");
    h.refuse = "payload.url is required";
    auto refused = run(&h);
    CHECK(refused.outcome == Outcome::permanent);
    CHECK(refused.message == "payload.url is required");
}

TEST_CASE("run_attempt: a throwing handler is a transient failure naming the exception") {
    Scripted h;
    h.throws = true;
    auto r = run(&h);
    CHECK(r.outcome == Outcome::transient);
    CHECK(r.message == "handler threw: boom");
}

TEST_CASE("run_attempt: a failure after the deadline is reported as a timeout") {
    Scripted h;
    h.result = HandlerResult::retry("connection reset");
    h.runs_for = std::chrono::milliseconds(30);
    auto late = run(&h, job(), std::chrono::milliseconds(5));
    CHECK(late.message == "timeout: connection reset");
    auto on_time = run(&h);
    CHECK(on_time.message == "connection reset");
    h.result = HandlerResult::ok();
    CHECK(run(&h, job(), std::chrono::milliseconds(5)).outcome == Outcome::success);
}

TEST_CASE("run_attempt: messages lose NUL characters and are cut to 2000 bytes") {
    Scripted h;
    h.result = HandlerResult::fail(std::string("a\0b", 3) + std::string(3000, 'x'));
    auto r = run(&h);
    CHECK(r.message.size() == 2000);
    CHECK(r.message.substr(0, 3) == "a?b");
}

TEST_CASE("backoff: one formula, min(base * 5^(n-1), max), shared with the SQL statements") {
    Config c;
    c.backoff_base_ms = 1000;
    c.backoff_max_s = 30;
    CHECK(c.backoff_after(1).count() == 1000);
    CHECK(c.backoff_after(2).count() == 5000);
    CHECK(c.backoff_after(3).count() == 25000);
    CHECK(c.backoff_after(4).count() == 30000);
    auto table = store::backoff_table(c);
    CHECK(table.rfind("{1000,5000,25000,30000,30000,", 0) == 0);
    CHECK(std::count(table.begin(), table.end(), ',') == 99); // attempts 1..100
}
