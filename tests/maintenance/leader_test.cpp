// One maintainer among many processes (SPEC §10): a lease row picks it, another process takes
// over within 30 s when it is SIGKILLed and at once when it stops cleanly.
#include <catch2/catch.hpp>

#include <signal.h>

#include "support/api.hpp"

using namespace testsupport;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

Procs start_three(const TestDatabase& db) {
    Procs procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_service(conveyor_binary(), db));
    return procs;
}

// Waits until exactly one running process leads (other than `not_this`); returns it.
size_t wait_for_one_leader(Procs& procs, long max_s, size_t not_this = 99) {
    std::vector<size_t> now;
    bool one = wait_until(
        [&] {
            now = leaders(procs);
            return now.size() == 1 && now[0] != not_this;
        },
        seconds(max_s), milliseconds(100));
    INFO("leaders: " << now.size());
    REQUIRE(one);
    return now[0];
}

double seconds_since(steady::time_point t) {
    return std::chrono::duration<double>(steady::now() - t).count();
}

} // namespace

TEST_CASE("of three processes exactly one is the maintainer, and the lease row names it") {
    TestDatabase db;
    auto procs = start_three(db);
    auto leader = wait_for_one_leader(procs, 10);
    // It stays the only one across several renewals.
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(seconds(2));
        CHECK(leaders(procs) == std::vector<size_t>{leader});
    }
    auto holder = db.text("SELECT holder FROM maintainer_lease");
    CHECK(holder.find(":" + std::to_string(procs[leader]->pid()) + ":") != std::string::npos);
    CHECK(procs[leader]->log_contains("this process is now the maintainer"));
}

TEST_CASE("a SIGKILLed maintainer is replaced within 30 s") {
    TestDatabase db;
    auto procs = start_three(db);
    auto first = wait_for_one_leader(procs, 10);
    auto term = db.count("SELECT term FROM maintainer_lease");
    procs[first]->signal(SIGKILL);
    REQUIRE(procs[first]->wait_exit(10000) == -1000 - SIGKILL);
    auto killed_at = steady::now();
    auto second = wait_for_one_leader(procs, 30, first);
    WARN("takeover after SIGKILL: " << seconds_since(killed_at) << " s (lease 15 s)");
    CHECK(db.count("SELECT term FROM maintainer_lease") == term + 1);
    CHECK(procs[second]->log_contains("this process is now the maintainer"));
}

TEST_CASE("a maintainer that stops cleanly resigns and another takes over at once") {
    TestDatabase db;
    auto procs = start_three(db);
    auto first = wait_for_one_leader(procs, 10);
    auto stopped_at = steady::now();
    procs[first]->signal(SIGTERM);
    // Well under the 15 s lease: the successor did not wait for it to expire.
    auto second = wait_for_one_leader(procs, 5, first);
    WARN("takeover after a clean stop: " << seconds_since(stopped_at) << " s");
    CHECK(procs[first]->wait_exit() == 0);
    CHECK(procs[first]->log_contains("resigned the maintainer lease"));
    CHECK(procs[second]->running());
}
