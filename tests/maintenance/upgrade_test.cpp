// Migration 008 upgrades a database made by an earlier version in place: finished rows get a
// finished_at (so retention can count from it), unfinished ones none, nothing is lost.
#include <catch2/catch.hpp>

#include "store/migrations.hpp"
#include "support/database.hpp"

using namespace conveyor;
using testsupport::TestDatabase;

TEST_CASE("migration 008 gives the finished jobs of an existing database a finished_at") {
    TestDatabase db;
    {
        // The database as the version before maintenance left it: every migration before 008.
        pqxx::connection c(db.url());
        pqxx::work tx(c);
        tx.exec0("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                 "applied_at timestamptz NOT NULL DEFAULT now())");
        for (const auto& m : store::embedded_migrations()) {
            if (m.version >= 8)
                continue;
            tx.exec(m.sql);
            tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            m.version, std::string(m.name));
        }
        tx.exec0("INSERT INTO jobs (job_type, status, updated_at) VALUES "
                 "('noop', 'done', now() - interval '3 days'), "
                 "('noop', 'failed', now() - interval '2 days'), ('noop', 'pending', now())");
        tx.commit();
    }
    pqxx::connection c(db.url());
    CHECK(store::apply_migrations(c) >= 1);
    CHECK(db.count("SELECT count(*) FROM jobs") == 3);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status IN ('done', 'failed') AND "
                   "finished_at = updated_at") == 2);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE status = 'pending' AND finished_at IS NULL") ==
          1);
    CHECK(db.count("SELECT count(*) FROM maintainer_lease WHERE holder IS NULL") == 1);
}
