#pragma once
// One transaction for one request, for the actors that answer requests with their own
// connection (controller, idempotency keeper).
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "log.hpp"
#include "model/outcome.hpp"
#include "store/connection.hpp"

namespace conveyor {

// Runs `body` in its own transaction; the outcome of a failure (503 when the database is gone,
// 500 otherwise, the cause logged as `who`: `what` failed) is returned instead of thrown.
template <typename F>
std::optional<RequestOutcome> in_transaction(store::Connection& conn, const char* who,
                                             const char* what, F&& body) {
    try {
        pqxx::work tx(conn.get());
        body(tx);
        tx.commit();
        return std::nullopt;
    } catch (const pqxx::broken_connection& e) {
        conn.reset();
        log::warn(who, std::string("database connection lost: ") + e.what());
        return StoreUnavailable{};
    } catch (const std::exception& e) {
        conn.reset_if_broken();
        log::error(who, std::string(what) + " failed: " + e.what());
        return StoreFailed{};
    }
}

} // namespace conveyor
