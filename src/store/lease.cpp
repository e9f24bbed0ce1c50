#include "store/lease.hpp"

#include "store/statement.hpp"

namespace conveyor::store {

std::optional<std::int64_t> acquire_lease(pqxx::connection& conn, const std::string& holder,
                                          int ttl_s) {
    pqxx::nontransaction tx(conn);
    auto rows = exec(tx, "lease_acquire", holder, ttl_s);
    if (rows.empty())
        return std::nullopt;
    return rows[0][0].as<std::int64_t>();
}

bool renew_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term, int ttl_s) {
    pqxx::nontransaction tx(conn);
    return !exec(tx, "lease_renew", holder, term, ttl_s).empty();
}

void resign_lease(pqxx::connection& conn, const std::string& holder, std::int64_t term) {
    pqxx::nontransaction tx(conn);
    exec(tx, "lease_resign", holder, term);
}

} // namespace conveyor::store
