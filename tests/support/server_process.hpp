#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testsupport {

// A real Conveyor process (build/conveyor or the test daemon) started with the given environment
// on a free port. Its stderr is collected; the destructor stops it with SIGKILL if still running.
class ServerProcess {
  public:
    ServerProcess(const std::string& binary, std::map<std::string, std::string> env,
                  std::vector<std::string> args = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    // Waits (bounded) for "listening on", then returns true; false if it exited or timed out.
    bool wait_ready(int timeout_ms = 20000);
    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int pid() const { return pid_; }
    void signal(int sig);
    // Waits for exit (bounded); returns the exit code, or -1000-signal, or -1 on timeout.
    int wait_exit(int timeout_ms = 60000);
    bool running();
    std::string log() const;
    bool log_contains(const std::string& needle) const;

  private:
    int pid_ = -1;
    int port_ = 0;
    int exit_code_ = -1;
    bool exited_ = false;
    int stderr_fd_ = -1;
    std::thread reader_;
    std::atomic<bool> log_complete_{false}; // the reader saw the end of the process's stderr
    mutable std::mutex mutex_;
    std::string log_;
};

// Path of a binary built beside the tests (compile definitions set by tests/CMakeLists.txt).
std::string conveyor_binary();
std::string testd_binary();

} // namespace testsupport
