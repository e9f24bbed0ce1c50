// Retention (SPEC §10): finished jobs past their RETENTION_* age are deleted in bounded batches
// by the maintainer alone, while pending jobs keep running; 0 keeps them forever.
#include <catch2/catch.hpp>

#include "support/api.hpp"

using namespace testsupport;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

namespace {

// `n` finished jobs in `status`, finished `age` ago (an SQL interval), tagged in the payload.
// Inserted with triggers off (session_replication_role): no events, as if long in the past.
void insert_finished(const TestDatabase& db, int n, const std::string& status,
                     const std::string& age, const std::string& tag) {
    db.exec("SET session_replication_role = replica; "
            "INSERT INTO jobs (job_type, payload, status, attempts, finished_at, created_at, "
            "updated_at) SELECT 'noop', jsonb_build_object('tag', '" +
            tag + "'), '" + status + "', 1, now() - interval '" + age + "', now() - interval '" +
            age + "', now() - interval '" + age + "' FROM generate_series(1, " + std::to_string(n) +
            ")");
}

long long tagged(const TestDatabase& db, const std::string& tag) {
    return db.count("SELECT count(*) FROM jobs WHERE payload->>'tag' = '" + tag + "'");
}

bool wait_gone(const TestDatabase& db, const std::string& tag, int max_s) {
    return wait_until([&] { return tagged(db, tag) == 0; }, seconds(max_s), milliseconds(200));
}

} // namespace

TEST_CASE("the cleaner deletes exactly the expired finished jobs while pending jobs run") {
    TestDatabase db;
    auto s = start_service(conveyor_binary(), db);
    insert_finished(db, 200000, "done", "2 days", "expired");
    insert_finished(db, 1000, "failed", "8 days", "expired");
    insert_finished(db, 1000, "done", "1 hour", "kept");   // younger than RETENTION_DONE_S
    insert_finished(db, 1000, "failed", "2 days", "kept"); // younger than RETENTION_FAILED_S
    auto size_before = db.count("SELECT pg_table_size('jobs')");
    auto started = steady::now();
    auto ids = submit_copies(*s, {{"job_type", "noop"}, {"payload", {{"tag", "new"}}}}, 10000);
    REQUIRE(wait_gone(db, "expired", 120));
    auto cleaned_s = std::chrono::duration<double>(steady::now() - started).count();
    REQUIRE(wait_until(
        [&] {
            return db.count("SELECT count(*) FROM jobs WHERE payload->>'tag' = 'new' AND "
                            "status = 'done'") == 10000;
        },
        seconds(120)));
    CHECK(tagged(db, "kept") == 2000);
    CHECK(tagged(db, "new") == 10000);
    CHECK(s->log_contains("cleaner: deleted"));
    pqxx::connection c(db.url()); // VACUUM cannot run inside TestDatabase::exec's transaction
    pqxx::nontransaction(c).exec0("VACUUM FULL jobs");
    auto size_after = db.count("SELECT pg_table_size('jobs')");
    WARN("201,000 expired rows deleted in " << cleaned_s << " s while 10,000 jobs ran; jobs table "
                                            << size_before / 1024 << " KiB -> " << size_after / 1024
                                            << " KiB after VACUUM FULL");
    CHECK(size_after * 5 < size_before);
}

TEST_CASE("a retention of 0 keeps finished jobs forever") {
    TestDatabase db;
    auto s = start_service(conveyor_binary(), db,
                           {{"RETENTION_DONE_S", "0"}, {"RETENTION_FAILED_S", "60"}});
    insert_finished(db, 500, "done", "3650 days", "kept");
    insert_finished(db, 500, "failed", "2 minutes", "expired");
    REQUIRE(wait_gone(db, "expired", 30)); // the cleaner ran
    CHECK(tagged(db, "kept") == 500);
}

TEST_CASE("a batch that exceeds its statement timeout is retried in smaller batches") {
    TestDatabase db;
    auto s = start_service(conveyor_binary(), db);
    // Deleting more than 2,000 rows in one statement takes 10 s: past the cleaner's 5 s limit.
    db.exec("CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF (SELECT count(*) FROM gone) > 2000 THEN PERFORM pg_sleep(10); END IF; "
            "RETURN NULL; END $$; CREATE TRIGGER slow_delete AFTER DELETE ON jobs REFERENCING "
            "OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION slow_delete()");
    insert_finished(db, 6000, "done", "2 days", "expired");
    REQUIRE(wait_gone(db, "expired", 90));
    INFO(log_tail(s->log()));
    CHECK(s->log_contains("deleting 5000 done jobs took over 5000 ms; batches of 2500 now"));
    CHECK(s->log_contains("batches of 1250 now"));
}

TEST_CASE("of three processes only the maintainer cleans and reaps") {
    TestDatabase db;
    std::vector<std::unique_ptr<ServerProcess>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_service(conveyor_binary(), db, {{"REAPER_INTERVAL_S", "1"}}));
    insert_finished(db, 3000, "done", "2 days", "expired");
    // A job whose owner vanished: its lease ran out a minute ago.
    db.exec("INSERT INTO jobs (job_type, status, attempts, locked_by, heartbeat_at, "
            "lease_expires_at, payload) VALUES ('noop', 'processing', 1, 'gone:1:0', "
            "now() - interval '2 minutes', now() - interval '1 minute', '{\"tag\": \"lost\"}')");
    REQUIRE(wait_gone(db, "expired", 30));
    REQUIRE(wait_until(
        [&] {
            return db.count("SELECT count(*) FROM jobs WHERE payload->>'tag' = 'lost' AND "
                            "status = 'done'") == 1;
        },
        seconds(30)));
    int cleaned = 0, reaped = 0, leaders = 0;
    for (auto& p : procs) {
        cleaned += p->log_contains("cleaner: deleted") ? 1 : 0;
        reaped += p->log_contains("returned 1 lost jobs") ? 1 : 0;
        leaders += p->log_contains("this process is now the maintainer") ? 1 : 0;
    }
    CHECK(cleaned == 1);
    CHECK(reaped == 1);
    CHECK(leaders == 1);
}
