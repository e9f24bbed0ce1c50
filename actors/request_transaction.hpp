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
// 500 otherwise, the cause logged as `who`: `what` failed) is returned instead of thrown. A
// transaction whose connection died before its COMMIT runs again on a new one; after a COMMIT
// with an unknown outcome it does not (a retried delete would answer 404 for the job it deleted).
template <typename F>
std::optional<RequestOutcome> in_transaction(store::Connection& conn, const char* who,
                                             const char* what, F&& body) {
    try {
        conn.run(store::Replay::before_commit, [&](pqxx::connection& c, bool) {
            pqxx::work tx(c);
            store::apply_local_settings(tx, conn.role());
            body(tx);
            tx.commit();
        });
        return std::nullopt;
    } catch (const pqxx::broken_connection& e) {
        conn.reset();
        log::warn(who, std::string("database connection lost: ") + e.what());
        return StoreUnavailable{};
    } catch (const pqxx::in_doubt_error& e) {
        conn.reset();
        log::warn(who, std::string("commit outcome unknown: ") + e.what());
        return StoreUnavailable{};
    } catch (const std::exception& e) {
        conn.reset_if_broken();
        log::error(who, std::string(what) + " failed: " + e.what());
        return StoreFailed{};
    }
}

} // namespace conveyor
