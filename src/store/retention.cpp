#include "store/retention.hpp"

#include "store/statement.hpp"

namespace conveyor::store {

int delete_expired_jobs(pqxx::connection& conn, const std::string& status, long age_s, int limit,
                        int timeout_ms) {
    pqxx::work tx(conn);
    // SET LOCAL: the limit ends with this transaction and never reaches other statements.
    tx.exec0("SET LOCAL statement_timeout = " + std::to_string(timeout_ms));
    auto n = exec(tx, "delete_expired_jobs", status, age_s, limit).affected_rows();
    tx.commit();
    return static_cast<int>(n);
}

} // namespace conveyor::store
