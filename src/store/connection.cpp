#include "store/connection.hpp"

#include <thread>

#include "log.hpp"
#include "store/queries.hpp"

namespace conveyor::store {

std::unique_ptr<pqxx::connection> connect(const std::string& url, Role role) {
    auto conn = std::make_unique<pqxx::connection>(url);
    // Named so that operators (and tests) can tell the connections apart in pg_stat_activity.
    static const char* names[] = {"writer", "claimer", "reader", "reaper", "listener", "stats"};
    pqxx::nontransaction(*conn).exec0(std::string("SET application_name = 'conveyor:") +
                                      names[static_cast<int>(role)] + "'");
    // Every statement here is small and runs thousands of times a second; JIT compilation only
    // costs. With enable_seqscan off (below), a plan that must scan a tiny table (queues) carries
    // the planner's disable cost and passes jit_above_cost: each claim then spent ~300 ms
    // compiling code for a 2 ms query.
    pqxx::nontransaction(*conn).exec0("SET jit = off");
    if (role == Role::claimer || role == Role::reaper) {
        // Losing a claim or a reclaim in a database crash only returns the job to where it was
        // (at-least-once holds), so these writes need not wait for their own WAL flush.
        pqxx::nontransaction(*conn).exec0("SET synchronous_commit = off");
        // Claims commit thousands of times a second under load: one events NOTIFY per 5 ms
        // from this session is plenty (see conveyor_notify_events in migrations/).
        pqxx::nontransaction(*conn).exec0("SET conveyor.notify_interval_ms = 5");
    }
    if (role == Role::writer || role == Role::claimer || role == Role::reader) {
        // These roles only touch rows through an index (primary key, the pending index, the
        // created_at index). The planner, misled by statistics taken in another phase of the
        // queue's life or by a generic plan's guess for LIMIT $1, otherwise picks sequential
        // scans whose cost grows with the table: seen as a 48 s completion batch and as claims
        // slowing to 270/s once 30,000 jobs were queued. Never let it.
        pqxx::nontransaction(*conn).exec0("SET enable_seqscan = off");
    }
    if (role == Role::writer) {
        // A 201 promises durability whatever the server's default: wait for the WAL flush.
        pqxx::nontransaction(*conn).exec0("SET synchronous_commit = on");
    }
    prepare_statements(*conn);
    return conn;
}

std::unique_ptr<pqxx::connection> connect_with_retry(const std::string& url, Role role,
                                                     std::chrono::seconds patience) {
    auto give_up = std::chrono::steady_clock::now() + patience;
    for (int attempt = 1;; ++attempt) {
        try {
            return connect(url, role);
        } catch (const std::exception& e) {
            if (std::chrono::steady_clock::now() >= give_up)
                throw;
            std::string why = e.what();
            while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
                why.pop_back();
            log::warn("db", "database not reachable (attempt " + std::to_string(attempt) +
                                "), retrying in 1 s: " + why);
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
}

pqxx::connection& Connection::get() {
    if (conn_ && !conn_->is_open())
        conn_.reset();
    if (!conn_)
        conn_ = connect(url_, role_);
    return *conn_;
}

void Connection::reset_if_broken() {
    if (conn_ && !conn_->is_open())
        conn_.reset();
}

} // namespace conveyor::store
