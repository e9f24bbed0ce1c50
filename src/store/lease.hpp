#pragma once
// The maintainer lease (migrations/008_maintenance.sql): one row, changed only by conditional
// updates, so at most one process holds it in any term.
#include <cstdint>
#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace conveyor::store {

// Takes the lease for `holder` for `ttl_s` seconds if it is free or expired; the new term, or
// nothing when another process holds it.
std::optional<std::int64_t> acquire_lease(pqxx::connection& conn, const std::string& holder,
                                          int ttl_s);
// Extends the lease by `ttl_s` seconds if `holder` still holds it in `term`; false when lost.
bool renew_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term, int ttl_s);
// Frees the lease if `holder` holds it in `term`.
void resign_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term);

} // namespace conveyor::store
