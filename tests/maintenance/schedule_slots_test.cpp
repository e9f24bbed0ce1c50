// Exactly one job per slot across processes, in real time (SPEC §10): a `* * * * *` schedule over
// three processes, whose maintainer is SIGKILLed just before a slot, loses no slot and doubles
// none; once deleted it produces nothing more. Takes about three minutes: slots are minutes.
#include <catch2/catch.hpp>

#include <signal.h>

#include "support/api.hpp"

using namespace testsupport;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

long long db_now(const TestDatabase& db) {
    return db.count("SELECT floor(extract(epoch FROM now()))::bigint");
}

void sleep_until_db(const TestDatabase& db, long long t) {
    for (int i = 0; i < 200 && db_now(db) < t; ++i)
        std::this_thread::sleep_for(milliseconds(500));
}

long long slot_jobs(const TestDatabase& db) {
    return db.count("SELECT count(*) FROM jobs WHERE queue = 'ticks'");
}

size_t leader_of(std::vector<std::unique_ptr<ServerProcess>>& procs) {
    size_t leader = procs.size();
    REQUIRE(wait_until(
        [&] {
            for (size_t i = 0; i < procs.size(); ++i) {
                auto h = http_get(procs[i]->base_url() + "/healthz").json();
                if (procs[i]->running() && h.is_object() && h.value("leader", false))
                    leader = i;
            }
            return leader < procs.size();
        },
        seconds(10), milliseconds(100)));
    return leader;
}

} // namespace

TEST_CASE("a per-minute schedule over three processes makes one job per slot through a kill") {
    TestDatabase db;
    std::vector<std::unique_ptr<ServerProcess>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_service(conveyor_binary(), db));
    auto leader = leader_of(procs);
    auto& other = *procs[(leader + 1) % 3];
    auto put = http(
        "PUT", other.base_url() + "/schedules/tick",
        json{{"cron", "* * * * *"}, {"job", {{"job_type", "noop"}, {"queue", "ticks"}}}}.dump());
    REQUIRE(put.status == 201);
    // Kill the maintainer 5 s before a slot: the slot falls due while nobody holds the lease.
    auto now = db_now(db);
    auto slot = (now / 60 + 1) * 60;
    if (slot - now < 10)
        slot += 60;
    sleep_until_db(db, slot - 5);
    procs[leader]->signal(SIGKILL);
    REQUIRE(procs[leader]->wait_exit(10000) == -1000 - SIGKILL);
    // The successor enqueues that slot late, then the next one on time.
    sleep_until_db(db, slot + 65);
    auto in_slots = [&](long long from, long long to) {
        return db.count("SELECT count(*) FROM jobs WHERE queue = 'ticks' AND scheduled_at >= "
                        "to_timestamp(" +
                        std::to_string(from) +
                        ") AND scheduled_at <= "
                        "to_timestamp(" +
                        std::to_string(to) + ")");
    };
    INFO("jobs: " << db.text("SELECT string_agg(to_char(scheduled_at, 'HH24:MI:SS'), ' ' ORDER BY "
                             "scheduled_at) FROM jobs"));
    WARN("slots enqueued (scheduled_at, then seconds late): " << db.text(
             "SELECT string_agg(to_char(scheduled_at, 'HH24:MI:SS') || '+' || "
             "round(extract(epoch FROM created_at - scheduled_at))::text, ' ' ORDER BY "
             "scheduled_at) FROM jobs"));
    CHECK(in_slots(slot, slot) == 1);
    CHECK(in_slots(slot + 60, slot + 60) == 1);
    // Every job is on a distinct whole minute, and the minutes have no gap.
    CHECK(db.count("SELECT count(DISTINCT scheduled_at) FROM jobs") == slot_jobs(db));
    CHECK(db.count("SELECT count(*) FROM jobs WHERE extract(second FROM scheduled_at) <> 0") == 0);
    CHECK(db.count("SELECT (extract(epoch FROM max(scheduled_at) - min(scheduled_at)) / 60)::int + "
                   "1 FROM jobs") == slot_jobs(db));
    // Deleted: nothing more, however many processes tick.
    REQUIRE(http("DELETE", other.base_url() + "/schedules/tick").status == 204);
    auto before = slot_jobs(db);
    sleep_until_db(db, slot + 125);
    CHECK(slot_jobs(db) == before);
}
