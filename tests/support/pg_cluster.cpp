#include "support/pg_cluster.hpp"

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/env.hpp"
#include "support/smtp_sink.hpp"

namespace testsupport {

namespace {

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string owner() {
    const char* runas = std::getenv("CONVEYOR_TEST_PG_RUNAS");
    return runas ? runas : "";
}

// A fresh directory the cluster owner can write and everyone can traverse (sockets live there).
std::string make_dir(const std::string& name) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/conveyor-" + name + "-XXXXXX";
    if (!mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp failed for " + tmpl);
    ::chmod(tmpl.c_str(), 0755);
    if (!owner().empty())
        if (passwd* pw = getpwnam(owner().c_str()))
            if (::chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0)
                throw std::runtime_error("chown failed for " + tmpl);
    return tmpl;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int read_pid(const std::string& path) {
    std::ifstream in(path);
    int pid = 0;
    in >> pid;
    return pid;
}

std::vector<int> children_of(int parent) {
    std::vector<int> out;
    DIR* proc = opendir("/proc");
    if (!proc)
        return out;
    while (dirent* e = readdir(proc)) {
        int pid = std::atoi(e->d_name);
        if (pid <= 0)
            continue;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(line.substr(close + 2));
        char state;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent)
            out.push_back(pid);
    }
    closedir(proc);
    return out;
}

void remove_tree(const std::string& dir) {
    if (dir.size() > 5)
        std::system(("rm -rf " + quote(dir)).c_str());
}

} // namespace

int run_as_owner(const std::string& dir, const std::string& command, const std::string& log) {
    std::string line = "cd " + quote(dir) + " && ";
    if (!owner().empty())
        line += "runuser -u " + quote(owner()) + " -- ";
    line += "sh -c " + quote(command) + " >>" + quote(log) + " 2>&1";
    return std::system(line.c_str());
}

PgCluster::PgCluster(const std::string& name) : dir_(make_dir(name)), port_(free_port()) {}

PgCluster::~PgCluster() {
    stop();
    remove_tree(dir_);
}

void PgCluster::init() {
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    REQUIRE(run_as_owner(dir_,
                         quote(bin + "/initdb") + " -D " + quote(dir_ + "/pgdata") +
                             " -U postgres -A trust -E UTF8 --locale=C.UTF-8",
                         dir_ + "/setup.log") == 0);
}

void PgCluster::base_backup_of(const PgCluster& primary) {
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    INFO(read_file(dir_ + "/setup.log"));
    REQUIRE(run_as_owner(dir_,
                         quote(bin + "/pg_basebackup") + " -h " + quote(primary.dir()) + " -p " +
                             std::to_string(primary.port()) + " -U postgres -D " +
                             quote(dir_ + "/pgdata") + " -R -X stream -c fast",
                         dir_ + "/setup.log") == 0);
}

void PgCluster::start(const std::vector<std::string>& settings) {
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    std::string options = "-p " + std::to_string(port_) + " -k " + dir_ + " -c listen_addresses=";
    for (const auto& s : settings)
        options += " -c " + s;
    int rc = run_as_owner(dir_,
                          quote(bin + "/pg_ctl") + " -D " + quote(dir_ + "/pgdata") + " -l " +
                              quote(dir_ + "/pg.log") + " -w -t 60 -o " + quote(options) + " start",
                          dir_ + "/setup.log");
    INFO(read_file(dir_ + "/setup.log") << read_file(dir_ + "/pg.log"));
    REQUIRE(rc == 0);
    running_ = true;
}

void PgCluster::kill_all() {
    int postmaster = read_pid(dir_ + "/pgdata/postmaster.pid");
    REQUIRE(postmaster > 0);
    // Stopped first, it forks no new backend while its children are listed and killed.
    ::kill(postmaster, SIGSTOP);
    for (int child : children_of(postmaster))
        ::kill(child, SIGKILL);
    ::kill(postmaster, SIGKILL);
    running_ = false;
}

void PgCluster::promote() {
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    REQUIRE(run_as_owner(dir_,
                         quote(bin + "/pg_ctl") + " -D " + quote(dir_ + "/pgdata") +
                             " -w -t 60 promote",
                         dir_ + "/setup.log") == 0);
}

void PgCluster::stop() {
    if (!running_)
        return;
    running_ = false;
    std::string bin = env_or_fail("CONVEYOR_TEST_PG_BIN");
    run_as_owner(dir_,
                 quote(bin + "/pg_ctl") + " -D " + quote(dir_ + "/pgdata") +
                     " -m immediate -w -t 60 stop",
                 dir_ + "/setup.log");
}

std::string PgCluster::url(const std::string& db) const {
    return "postgresql://postgres@/" + db + "?host=" + dir_ + "&port=" + std::to_string(port_);
}

std::string PgCluster::log() const {
    return read_file(dir_ + "/pg.log");
}

PgBouncer::PgBouncer(const std::string& socket_dir, int pg_port, int pool_size)
    : dir_(make_dir("pgbouncer")), port_(free_port()) {
    {
        std::ofstream users(dir_ + "/users.txt");
        users << "\"postgres\" \"\"\n";
        std::ofstream ini(dir_ + "/pgbouncer.ini");
        ini << "[databases]\n* = host=" << socket_dir << " port=" << pg_port << "\n"
            << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_ << "\n"
            << "unix_socket_dir = " << dir_ << "\n"
            << "auth_type = trust\nauth_file = " << dir_ << "/users.txt\n"
            << "pool_mode = transaction\ndefault_pool_size = " << pool_size << "\n"
            << "max_client_conn = 500\n"
            << "server_reset_query = DISCARD ALL\nserver_reset_query_always = 1\n"
            << "pidfile = " << dir_ << "/pgbouncer.pid\nlogfile = " << dir_ << "/pgbouncer.log\n"
            << "admin_users = postgres\n";
    }
    std::string ini = dir_ + "/pgbouncer.ini";
    if (!owner().empty())
        std::system(("chown -R " + quote(owner()) + " " + quote(dir_)).c_str());
    INFO(read_file(dir_ + "/setup.log") << read_file(dir_ + "/pgbouncer.log"));
    REQUIRE(run_as_owner(dir_, "/usr/sbin/pgbouncer -d " + quote(ini), dir_ + "/setup.log") == 0);
    std::string socket = dir_ + "/.s.PGSQL." + std::to_string(port_);
    struct stat st {};
    REQUIRE(wait_until([&] { return pid() > 0 && ::stat(socket.c_str(), &st) == 0; },
                       std::chrono::seconds(10)));
}

PgBouncer::~PgBouncer() {
    int p = pid();
    if (p > 0) {
        ::kill(p, SIGTERM);
        if (!wait_until([&] { return ::kill(p, 0) != 0; }, std::chrono::seconds(5)))
            ::kill(p, SIGKILL);
    }
    remove_tree(dir_);
}

int PgBouncer::pid() const {
    return read_pid(dir_ + "/pgbouncer.pid");
}

std::string PgBouncer::url(const std::string& db) const {
    return "postgresql://postgres@/" + db + "?host=" + dir_ + "&port=" + std::to_string(port_);
}

std::string PgBouncer::log() const {
    return read_file(dir_ + "/pgbouncer.log");
}

} // namespace testsupport
