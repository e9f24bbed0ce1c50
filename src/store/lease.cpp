#include "store/lease.hpp"

namespace conveyor::store {

std::optional<std::int64_t> acquire_lease(pqxx::connection& conn, const std::string& holder,
                                          int ttl_s) {
    pqxx::nontransaction tx(conn);
    auto rows = tx.exec_prepared("lease_acquire", holder, ttl_s);
    if (rows.empty())
        return std::nullopt;
    return rows[0][0].as<std::int64_t>();
}

bool renew_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term, int ttl_s) {
    pqxx::nontransaction tx(conn);
    return !tx.exec_prepared("lease_renew", holder, term, ttl_s).empty();
}

void resign_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term) {
    pqxx::nontransaction tx(conn);
    tx.exec_prepared("lease_resign", holder, term);
}

} // namespace conveyor::store
