#include "store/migrations.hpp"

#include <set>

#include "log.hpp"

namespace conveyor::store {

namespace {
// Arbitrary, fixed: every Conveyor process takes the same lock.
constexpr long long kMigrationLock = 0x636f6e7665796fLL;
} // namespace

int apply_migrations(pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    tx.exec0("CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version integer PRIMARY KEY, name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())");
    std::set<int> done;
    for (const auto& row : tx.exec("SELECT version FROM schema_migrations"))
        done.insert(row[0].as<int>());
    int applied = 0;
    for (const auto& m : embedded_migrations()) {
        if (done.count(m.version))
            continue;
        tx.exec(m.sql);
        tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                        std::string(m.name));
        log::info("migrate", std::string("applied ") + m.name);
        ++applied;
    }
    tx.commit();
    return applied;
}

} // namespace conveyor::store
