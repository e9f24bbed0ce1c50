#pragma once
#include <chrono>
#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace conveyor::store {

// `stats`: the stats sampler's counts, which scan the table on purpose (no enable_seqscan=off).
enum class Role { writer, claimer, reader, reaper, listener, maintainer, stats };

const char* to_string(Role role);

// Behind a transaction pooler (see store/statement.hpp): the role's settings for this
// transaction only (SET LOCAL), since session settings would stay on a server connection that
// other clients use next. Does nothing on a session connection, which has them for good.
void apply_local_settings(pqxx::transaction_base& tx, Role role);

// Opens a connection, sets the role's session settings and prepares the statements of
// queries.hpp (none of this behind a transaction pooler). Throws on failure.
std::unique_ptr<pqxx::connection> connect(const std::string& url, Role role);

// How a unit of work may be repeated on a new connection after its connection died under it.
enum class Replay {
    // Reads, and writes that find what an earlier try did (inserts carrying their own ids,
    // updates guarded by the state they change): repeated even when the commit's outcome is
    // unknown.
    always,
    // Repeated only when the connection died before the commit was sent: nothing was applied.
    before_commit,
};

// Start-up: retries with a log line each time until `patience` runs out, then throws.
std::unique_ptr<pqxx::connection> connect_with_retry(const std::string& url, Role role,
                                                     std::chrono::seconds patience);

// A connection that reopens itself after a failure; owned by exactly one actor.
class Connection {
  public:
    Connection(std::string url, Role role) : url_(std::move(url)), role_(role) {}
    // The open connection, reconnecting when needed. Throws pqxx::broken_connection when the
    // database cannot be reached.
    pqxx::connection& get();
    // Call after an exception: drops a broken connection so that get() opens a new one.
    void reset_if_broken();
    // Drops the connection; counted as lost when it had died.
    void reset();
    Role role() const { return role_; }

    // Runs body(connection, replaying) once, and once more on a new connection when the first
    // try lost its connection and `replay` allows it: a connection that died while idle (a
    // pooler restart, an idle timeout, pg_terminate_backend) costs no request an error. A
    // connection that cannot be opened is not retried here: the database is down, and the caller
    // answers so. `replaying` tells the body it runs again after an unknown outcome.
    template <typename F> auto run(Replay replay, F&& body) {
        const bool fresh = !conn_;
        try {
            return body(get(), false);
        } catch (const pqxx::broken_connection&) {
            if (fresh)
                throw;
            reset();
        } catch (const pqxx::in_doubt_error&) {
            reset();
            if (replay != Replay::always)
                throw;
        }
        return body(get(), true);
    }

  private:
    std::string url_;
    Role role_;
    std::unique_ptr<pqxx::connection> conn_;
};

} // namespace conveyor::store
