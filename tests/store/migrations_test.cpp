#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "store/migrations.hpp"
#include "support/database.hpp"

using namespace conveyor;
using testsupport::TestDatabase;

TEST_CASE("migrations create the jobs table and are recorded once") {
    TestDatabase db;
    pqxx::connection c(db.url());
    CHECK(store::apply_migrations(c) == static_cast<int>(store::embedded_migrations().size()));
    CHECK(store::apply_migrations(c) == 0);
    CHECK(db.count("SELECT count(*) FROM schema_migrations") ==
          static_cast<long long>(store::embedded_migrations().size()));
    CHECK(db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("migrations started concurrently apply each migration exactly once") {
    TestDatabase db;
    std::vector<std::thread> threads;
    std::atomic<int> applied{0}, failures{0};
    for (int i = 0; i < 6; ++i)
        threads.emplace_back([&] {
            try {
                pqxx::connection c(db.url());
                applied += store::apply_migrations(c);
            } catch (...) {
                ++failures;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(applied == static_cast<int>(store::embedded_migrations().size()));
}

TEST_CASE("the status column is checked and the pending and processing indexes are partial") {
    TestDatabase db;
    pqxx::connection c(db.url());
    store::apply_migrations(c);
    CHECK_THROWS(db.exec("INSERT INTO jobs (job_type, status) VALUES ('noop', 'weird')"));
    CHECK_THROWS(db.exec("INSERT INTO jobs (job_type, queue) VALUES ('noop', 'Bad Name')"));
    CHECK_THROWS(db.exec("INSERT INTO jobs (job_type, priority) VALUES ('noop', 10)"));
    auto pending = db.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_pending_idx'");
    CHECK(pending.find("(queue, priority, scheduled_at, id) WHERE (status = 'pending'::text)") !=
          std::string::npos);
    CHECK(db.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_processing_idx'")
              .find("WHERE (status = 'processing'::text)") != std::string::npos);
    // Retention's index holds finished rows only, so claims (pending to processing) never write it.
    CHECK(db.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_finished_idx'")
              .find("(status, finished_at) WHERE (finished_at IS NOT NULL)") != std::string::npos);
    // Every index costs claims and completions: exactly these. The unique-key index holds only
    // rows with a key; the finished index only finished rows (README "Maintenance").
    CHECK(db.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_unique_key_idx'")
              .find("WHERE ((unique_key IS NOT NULL) AND") != std::string::npos);
    CHECK(db.text("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE "
                  "tablename = 'jobs'") == "jobs_created_idx,jobs_finished_idx,jobs_pending_idx,"
                                           "jobs_pkey,jobs_processing_idx,jobs_unique_key_idx");
}
