#include "support/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>

#include "support/env.hpp"

namespace testsupport {

std::string conveyor_binary() {
    return CONVEYOR_BIN;
}
std::string testd_binary() {
    return CONVEYOR_TESTD_BIN;
}

ServerProcess::ServerProcess(const std::string& binary, std::map<std::string, std::string> env,
                             std::vector<std::string> args) {
    env.emplace("PORT", "0");
    env.emplace("LOG_LEVEL", "info");
    int fds[2];
    if (pipe(fds) != 0)
        throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        for (const auto& [k, v] : env)
            setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(binary.c_str()));
        for (auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(binary.c_str(), argv.data());
        std::perror("execv");
        _exit(127);
    }
    close(fds[1]);
    stderr_fd_ = fds[0];
    reader_ = std::thread([this] {
        char buf[4096];
        ssize_t n;
        while ((n = read(stderr_fd_, buf, sizeof buf)) > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            log_.append(buf, static_cast<size_t>(n));
        }
    });
}

ServerProcess::~ServerProcess() {
    if (!exited_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        wait_exit(10000);
    }
    if (reader_.joinable())
        reader_.join();
    if (stderr_fd_ >= 0)
        close(stderr_fd_);
}

bool ServerProcess::wait_ready(int timeout_ms) {
    const std::string marker = "listening on http://";
    bool ok = wait_until(
        [&] {
            std::lock_guard<std::mutex> lock(mutex_);
            auto at = log_.find(marker);
            if (at == std::string::npos)
                return false;
            auto colon = log_.find(':', at + marker.size());
            auto end = log_.find('\n', colon);
            if (end == std::string::npos)
                return false;
            port_ = std::stoi(log_.substr(colon + 1, end - colon - 1));
            return port_ > 0;
        },
        std::chrono::milliseconds(timeout_ms));
    if (!ok)
        std::cerr << "server did not become ready; its log:\n" << log() << std::endl;
    return ok;
}

void ServerProcess::signal(int sig) {
    if (!exited_)
        kill(pid_, sig);
}

int ServerProcess::wait_exit(int timeout_ms) {
    if (exited_)
        return exit_code_;
    int status = 0;
    bool done = wait_until(
        [&] {
            pid_t r = waitpid(pid_, &status, WNOHANG);
            return r == pid_;
        },
        std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(10));
    if (!done)
        return -1;
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1000 - WTERMSIG(status);
    // The process is gone, so its stderr ends: wait for the last lines, which a loaded machine
    // may not have read yet (a test that checks the log right after exit must see them).
    if (reader_.joinable())
        reader_.join();
    return exit_code_;
}

bool ServerProcess::running() {
    if (exited_)
        return false;
    return wait_exit(0) == -1;
}

std::string ServerProcess::log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
}

bool ServerProcess::log_contains(const std::string& needle) const {
    return log().find(needle) != std::string::npos;
}

} // namespace testsupport
