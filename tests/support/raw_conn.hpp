#pragma once
// One raw TCP connection to the server, for what a well-behaved client library will not do:
// trickled, oversized or never-read requests and responses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

namespace testsupport {

// One raw TCP connection to the server, with bounded non-blocking I/O.
class RawConn {
    using Clock = std::chrono::steady_clock;

  public:
    // `receive_buffer` > 0 shrinks the socket's receive buffer, for a client that reads nothing.
    explicit RawConn(int port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            return;
        if (receive_buffer > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd_, POLLOUT, 0};
            int err = 0;
            socklen_t len = sizeof err;
            if (::poll(&p, 1, 5000) == 1 &&
                getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                rc = 0;
        }
        if (rc != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~RawConn() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    RawConn(const RawConn&) = delete;
    RawConn& operator=(const RawConn&) = delete;

    bool ok() const { return fd_ >= 0; }
    bool closed() const { return closed_; }
    // The server aborted the connection (RST) rather than closing it after its last bytes.
    bool reset() const { return reset_; }
    const std::string& received() const { return in_; }

    // Sends everything within `timeout_ms`; false when the peer closed or reset, or on timeout.
    bool send_all(const std::string& data, int timeout_ms = 10000) {
        auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                closed_ = true;
                reset_ = errno == ECONNRESET || errno == EPIPE;
                return false;
            }
            if (Clock::now() >= deadline)
                return false;
            // While the socket buffer is full, notice a close by the server.
            pump(50);
            if (closed_)
                return false;
        }
        return true;
    }

    // Reads what is available for up to `timeout_ms`; returns false once the peer closed.
    bool pump(int timeout_ms) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0)
            return !closed_;
        char buf[65536];
        while (true) {
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                in_.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                closed_ = true;
                reset_ = n < 0 && errno == ECONNRESET;
            }
            break;
        }
        return !closed_;
    }

    // Reads until `done(received)` holds or the peer closes or `timeout_ms` passes.
    bool read_until(const std::function<bool(const std::string&)>& done, int timeout_ms) {
        auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!done(in_) && !closed_ && Clock::now() < deadline)
            pump(50);
        return done(in_);
    }

    // True when the server closes the connection within `timeout_ms`.
    bool closed_within(int timeout_ms) {
        return read_until([this](const std::string&) { return closed_; }, timeout_ms) || closed_;
    }

    // A complete response with a Content-Length body has arrived.
    static bool complete_response(const std::string& s) {
        auto end = s.find("\r\n\r\n");
        if (end == std::string::npos)
            return false;
        auto head = lower(s.substr(0, end));
        auto cl = head.find("\r\ncontent-length:");
        if (cl == std::string::npos)
            return true;
        size_t len = std::stoul(head.substr(cl + 17));
        return s.size() >= end + 4 + len;
    }
    static std::string lower(std::string s) {
        for (auto& c : s)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }

  private:
    int fd_ = -1;
    bool closed_ = false, reset_ = false;
    std::string in_;
};

inline int status_of(const std::string& response) {
    if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12)
        return 0;
    return std::atoi(response.c_str() + 9);
}

inline std::string body_of(const std::string& response) {
    auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
}

inline std::string post_head(const std::string& path, size_t content_length,
                             const std::string& extra = "") {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           extra + "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

} // namespace testsupport
