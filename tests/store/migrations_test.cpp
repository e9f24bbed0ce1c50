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

TEST_CASE("the status column is checked and the pending index is partial") {
    TestDatabase db;
    pqxx::connection c(db.url());
    store::apply_migrations(c);
    CHECK_THROWS(db.exec("INSERT INTO jobs (job_type, status) VALUES ('noop', 'weird')"));
    CHECK(db.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_pending_scheduled_idx'")
              .find("WHERE (status = 'pending'::text)") != std::string::npos);
}
