// Turning due slots into jobs (SPEC §10), at the store level with real connections: exactly one
// job per slot however many ticks race, only the latest slot after downtime.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "engine/schedule_ticks.hpp"
#include "store/connection.hpp"
#include "store/migrations.hpp"
#include "support/database.hpp"
#include "support/registry.hpp"

using namespace testsupport;
using namespace conveyor;

namespace {

const char* kJob = R"({"job_type":"noop","queue":"reports","priority":4,"payload":{"a":1},)"
                   R"("max_attempts":2})";

std::unique_ptr<pqxx::connection> migrated(const TestDatabase& db) {
    auto conn = store::connect(db.url(), store::Role::maintainer);
    store::apply_migrations(*conn);
    return conn;
}

void add_schedule(const TestDatabase& db, const std::string& cron, const std::string& due_since) {
    db.exec("INSERT INTO schedules (name, cron, job, next_run_at) VALUES ('s', '" + cron + "', '" +
            kJob + "', now() - interval '" + due_since + "')");
}

} // namespace

TEST_CASE("after downtime a due schedule enqueues only its latest missed slot") {
    TestDatabase db;
    auto conn = migrated(db);
    add_schedule(db, "*/10 * * * *", "3 hours");
    auto fired = fire_due_schedules(*conn, builtin_registry());
    REQUIRE(fired.size() == 1);
    CHECK(fired[0].schedule == "s");
    CHECK(db.count("SELECT count(*) FROM jobs") == 1);
    // The slot is the last 10-minute mark: the job is due at it, the schedule remembers it and
    // waits for the next one.
    CHECK(db.count("SELECT count(*) FROM jobs j, schedules s WHERE j.scheduled_at <= now() AND "
                   "j.scheduled_at > now() - interval '10 minutes' AND "
                   "extract(minute FROM j.scheduled_at)::int % 10 = 0 AND "
                   "extract(second FROM j.scheduled_at) = 0 AND s.last_run_at = j.scheduled_at "
                   "AND s.next_run_at = j.scheduled_at + interval '10 minutes'") == 1);
    // The job is the schedule's: queue, priority, payload, attempts.
    CHECK(db.count("SELECT count(*) FROM jobs WHERE queue = 'reports' AND priority = 4 AND "
                   "payload = '{\"a\":1}' AND max_attempts = 2 AND job_type = 'noop' AND "
                   "status = 'pending'") == 1);
    CHECK(fire_due_schedules(*conn, builtin_registry()).empty());
    CHECK(db.count("SELECT count(*) FROM jobs") == 1);
}

TEST_CASE("eight ticks racing enqueue each due slot exactly once") {
    TestDatabase db;
    auto first = migrated(db);
    add_schedule(db, "* * * * *", "1 minute");
    std::vector<std::unique_ptr<pqxx::connection>> conns;
    for (int i = 0; i < 8; ++i)
        conns.push_back(store::connect(db.url(), store::Role::maintainer));
    const int rounds = 15;
    for (int round = 0; round < rounds; ++round) {
        // Due again: as if a minute had passed since the last slot.
        db.exec("UPDATE schedules SET next_run_at = now() - interval '1 minute'");
        std::atomic<int> ready{0}, fired{0};
        std::vector<std::thread> ticks;
        for (auto& c : conns)
            ticks.emplace_back([&, conn = c.get()] {
                ++ready;
                while (ready < static_cast<int>(conns.size()))
                    std::this_thread::yield();
                fired += static_cast<int>(fire_due_schedules(*conn, builtin_registry()).size());
            });
        for (auto& t : ticks)
            t.join();
        CHECK(fired == 1);
    }
    CHECK(db.count("SELECT count(*) FROM jobs") == rounds);
}

TEST_CASE("a schedule whose job is no longer valid skips its slot and waits for the next") {
    TestDatabase db;
    auto conn = migrated(db);
    db.exec("INSERT INTO schedules (name, cron, job, next_run_at) VALUES ('s', '@hourly', "
            "'{\"job_type\":\"retired\"}', now() - interval '1 minute')");
    CHECK(fire_due_schedules(*conn, builtin_registry()).empty());
    CHECK(db.count("SELECT count(*) FROM jobs") == 0);
    CHECK(db.count("SELECT count(*) FROM schedules WHERE next_run_at > now() AND last_run_at IS "
                   "NULL") == 1);
}

TEST_CASE("a stored schedule this version cannot read is paused, not retried every second") {
    TestDatabase db;
    auto conn = migrated(db);
    add_schedule(db, "not a cron", "1 minute");
    CHECK(fire_due_schedules(*conn, builtin_registry()).empty());
    CHECK(db.count("SELECT count(*) FROM schedules WHERE next_run_at IS NULL") == 1);
    CHECK(db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("a schedule's job keeps its unique_key: a slot while the last job is unfinished makes "
          "none") {
    TestDatabase db;
    auto conn = migrated(db);
    db.exec("INSERT INTO schedules (name, cron, job, next_run_at) VALUES ('s', '* * * * *', "
            "'{\"job_type\":\"noop\",\"queue\":\"nightly\",\"unique_key\":\"rebuild\"}', "
            "now() - interval '1 minute')");
    auto first = fire_due_schedules(*conn, builtin_registry());
    REQUIRE(first.size() == 1);
    CHECK_FALSE(first[0].duplicate);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE unique_key = 'rebuild' AND queue = 'nightly' "
                   "AND status = 'pending'") == 1);
    // The next slot comes while that job is still pending: the key is held, nothing is added,
    // and the slot is used up all the same (the schedule moves on).
    db.exec("UPDATE schedules SET next_run_at = now() - interval '1 second'");
    auto second = fire_due_schedules(*conn, builtin_registry());
    REQUIRE(second.size() == 1);
    CHECK(second[0].duplicate);
    CHECK(second[0].job_id == first[0].job_id);
    CHECK(db.count("SELECT count(*) FROM jobs") == 1);
    CHECK(db.count("SELECT count(*) FROM schedules WHERE next_run_at > now()") == 1);
    // Once it finished the key is free again: the next slot enqueues a new job.
    db.exec("UPDATE jobs SET status = 'done', finished_at = now()");
    db.exec("UPDATE schedules SET next_run_at = now() - interval '1 second'");
    auto third = fire_due_schedules(*conn, builtin_registry());
    REQUIRE(third.size() == 1);
    CHECK_FALSE(third[0].duplicate);
    CHECK(third[0].job_id != first[0].job_id);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE unique_key = 'rebuild'") == 2);
}
