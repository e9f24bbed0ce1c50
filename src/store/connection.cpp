#include "store/connection.hpp"

#include <thread>
#include <vector>

#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"
#include "store/statement.hpp"

namespace conveyor::store {

namespace {

// libpq quotes pieces of a malformed URI in its errors (`invalid percent-encoded token:
// "<password>"`): the password of `url`, in userinfo or as password=, is cut out (issue 17).
std::string without_password(std::string msg, const std::string& url) {
    std::vector<std::string> secrets;
    if (auto scheme = url.find("://"); scheme != std::string::npos) {
        auto start = scheme + 3;
        auto end = url.find_first_of("/?#", start);
        auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
        if (at != std::string::npos && at >= start) {
            auto colon = url.find(':', start);
            if (colon != std::string::npos && colon < at)
                secrets.push_back(url.substr(colon + 1, at - colon - 1));
        }
    }
    for (auto p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
        auto v = p + 9;
        secrets.push_back(url.substr(v, url.find_first_of("& ", v) - v));
    }
    for (const auto& secret : secrets) {
        if (secret.empty())
            continue;
        for (auto at = msg.find(secret); at != std::string::npos; at = msg.find(secret, at + 3))
            msg.replace(at, secret.size(), "***");
    }
    return msg;
}

} // namespace

const char* to_string(Role role) {
    static const char* names[] = {"writer",   "claimer",    "reader", "reaper",
                                  "listener", "maintainer", "stats"};
    return names[static_cast<int>(role)];
}

namespace {

struct Setting {
    const char* assignment;
    // Also as SET LOCAL in each transaction behind a transaction pooler. Not for settings that
    // make the server keep session state of its own (conveyor.notify_interval_ms makes
    // conveyor_notify_events remember its next NOTIFY with set_config(..., false)).
    bool pooled;
};

std::vector<Setting> settings(Role role) {
    std::vector<Setting> out;
    // Every statement here is small and runs thousands of times a second; JIT compilation only
    // costs. With enable_seqscan off (below), a plan that must scan a tiny table (queues) carries
    // the planner's disable cost and passes jit_above_cost: each claim then spent ~300 ms
    // compiling code for a 2 ms query.
    out.push_back({"jit = off", true});
    if (role == Role::claimer || role == Role::reaper) {
        // Losing a claim or a reclaim in a database crash only returns the job to where it was
        // (at-least-once holds), so these writes need not wait for their own WAL flush.
        out.push_back({"synchronous_commit = off", true});
        // Claims commit thousands of times a second under load: one events NOTIFY per 5 ms
        // from this session is plenty (see conveyor_notify_events in migrations/).
        out.push_back({"conveyor.notify_interval_ms = 5", false});
    }
    if (role == Role::claimer) {
        // The claim's planner estimates favour a custom plan over the generic one, so by default
        // every claim was planned again: 0.18 ms of planning per claim on top of 0.35 ms of
        // execution (pg_stat_statements.track_planning). Its shape never depends on the values.
        // (Unnamed statements behind a pooler are planned each time anyway.)
        out.push_back({"plan_cache_mode = force_generic_plan", false});
    }
    if (role == Role::writer || role == Role::claimer || role == Role::reader ||
        role == Role::maintainer) {
        // These roles only touch rows through an index (primary key, the pending index, the
        // created_at index). The planner, misled by statistics taken in another phase of the
        // queue's life or by a generic plan's guess for LIMIT $1, otherwise picks sequential
        // scans whose cost grows with the table: seen as a 48 s completion batch and as claims
        // slowing to 270/s once 30,000 jobs were queued. Never let it.
        out.push_back({"enable_seqscan = off", true});
    }
    if (role == Role::writer) {
        // A 201 promises durability whatever the server's default: wait for the WAL flush.
        out.push_back({"synchronous_commit = on", true});
    }
    return out;
}

} // namespace

void apply_local_settings(pqxx::transaction_base& tx, Role role) {
    if (!pooled())
        return;
    std::string sql;
    for (const auto& setting : settings(role))
        if (setting.pooled)
            sql += std::string("SET LOCAL ") + setting.assignment + ";";
    tx.exec0(sql);
}

std::unique_ptr<pqxx::connection> connect(const std::string& url, Role role) {
    std::unique_ptr<pqxx::connection> conn;
    try {
        conn = std::make_unique<pqxx::connection>(url);
    } catch (const pqxx::broken_connection& e) {
        metrics::database_connect_failed(to_string(role));
        throw pqxx::broken_connection(without_password(e.what(), url));
    }
    // Named so that operators (and tests) can tell the connections apart in pg_stat_activity.
    pqxx::nontransaction(*conn).exec0(std::string("SET application_name = 'conveyor:") +
                                      to_string(role) + "'");
    if (pooled())
        return conn; // the settings go with each transaction instead: apply_local_settings
    for (const auto& setting : settings(role))
        pqxx::nontransaction(*conn).exec0("SET " + std::string(setting.assignment));
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
        reset();
    if (!conn_)
        conn_ = connect(url_, role_);
    return *conn_;
}

void Connection::reset_if_broken() {
    if (conn_ && !conn_->is_open())
        reset();
}

void Connection::reset() {
    if (conn_ && !conn_->is_open())
        metrics::database_connection_lost(to_string(role_));
    conn_.reset();
}

} // namespace conveyor::store
