#pragma once
#include <chrono>
#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace conveyor::store {

// `stats`: the stats sampler's counts, which scan the table on purpose (no enable_seqscan=off).
enum class Role { writer, claimer, reader, reaper, listener, maintainer, stats };

// Opens a connection and prepares the statements of queries.hpp. Throws on failure.
std::unique_ptr<pqxx::connection> connect(const std::string& url, Role role);

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
    void reset() { conn_.reset(); }

  private:
    std::string url_;
    Role role_;
    std::unique_ptr<pqxx::connection> conn_;
};

} // namespace conveyor::store
