#pragma once
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace conveyor::store {

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

// migrations/*.sql, compiled in by cmake/embed_sql.cmake.
const std::vector<Migration>& embedded_migrations();

// Applies pending migrations in one transaction under an advisory lock, so that instances starting
// together apply each exactly once. Returns how many were applied.
int apply_migrations(pqxx::connection& conn);

} // namespace conveyor::store
