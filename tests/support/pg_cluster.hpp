#pragma once
// Throw-away PostgreSQL clusters and a PgBouncer of a test's own, beside the shared cluster of
// scripts/test: a primary and its streaming standby (the failover test), a transaction pooler
// (the pooler test). Everything listens on unix sockets in a private directory (PgBouncer also on
// 127.0.0.1); processes run as the cluster owner when the tests run as root, and every process
// started here is stopped by the destructor, by its own pid.
#include <string>
#include <vector>

namespace testsupport {

// Runs a shell command line as the PostgreSQL owner (CONVEYOR_TEST_PG_RUNAS) from `dir`; returns
// its exit status. Output goes to `log`.
int run_as_owner(const std::string& dir, const std::string& command, const std::string& log);

class PgCluster {
  public:
    // A new directory under TMPDIR; nothing runs yet.
    explicit PgCluster(const std::string& name);
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    void init();                                   // initdb, trust on the socket
    void base_backup_of(const PgCluster& primary); // pg_basebackup -R: a standby of `primary`
    // pg_ctl start with these -c settings (and the socket, port, no TCP); REQUIREs success.
    void start(const std::vector<std::string>& settings = {});
    // SIGKILL to the postmaster and every one of its children, as a machine losing power.
    void kill_all();
    void promote(); // pg_ctl promote -w
    void stop();    // pg_ctl stop -m immediate, when running

    const std::string& dir() const { return dir_; }
    int port() const { return port_; }
    // A libpq URI for `db` through this cluster's socket, as the postgres user.
    std::string url(const std::string& db) const;
    std::string log() const; // the server log

  private:
    std::string dir_;
    int port_;
    bool running_ = false;
};

class PgBouncer {
  public:
    // Pools every database of the cluster listening in `socket_dir` on `pg_port`, in transaction
    // mode, `pool_size` server connections per database. Each server connection is reset (DISCARD
    // ALL) after every transaction, so that whatever a transaction leaves in its session (a
    // prepared statement, a SET, a LISTEN, a temp table) is gone for the next one: a client that
    // relies on session state fails at once instead of by chance.
    PgBouncer(const std::string& socket_dir, int pg_port, int pool_size);
    ~PgBouncer();
    PgBouncer(const PgBouncer&) = delete;
    PgBouncer& operator=(const PgBouncer&) = delete;

    // Through the unix socket of the pooler.
    std::string url(const std::string& db) const;
    int port() const { return port_; }
    std::string log() const;
    int pid() const;

  private:
    std::string dir_;
    int port_;
};

} // namespace testsupport
