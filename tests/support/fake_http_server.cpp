#include "support/fake_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace testsupport {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t");
    auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

const char* reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

} // namespace

FakeHttpServer::FakeHttpServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0)
        throw std::runtime_error("socket failed");
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0)
        throw std::runtime_error("bind/listen failed");
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeHttpServer::~FakeHttpServer() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    stopped_.notify_all();
    if (acceptor_.joinable())
        acceptor_.join();
    std::vector<std::thread> workers;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        workers.swap(workers_);
    }
    for (auto& t : workers)
        t.join();
    ::close(listen_fd_);
}

std::vector<Request> FakeHttpServer::requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
}

std::size_t FakeHttpServer::request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
}

void FakeHttpServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0)
            continue;
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0)
            continue;
        ++connections_;
        std::lock_guard<std::mutex> lock(mutex_);
        workers_.emplace_back([this, fd] {
            serve(fd);
            ::close(fd);
        });
    }
}

void FakeHttpServer::sleep_unless_stopped(int ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    stopped_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
}

// Reads one request from `buffer` + the socket; false when the peer went away or we stop.
bool FakeHttpServer::read_request(int fd, std::string& buffer, Request& out) {
    auto fill = [&]() {
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            int r = ::poll(&p, 1, 50);
            if (r == 0)
                continue;
            if (r < 0)
                return false;
            char buf[8192];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                return false;
            buffer.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    };
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
        if (!fill())
            return false;
    std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);

    out = Request{};
    std::size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    out.method = request_line.substr(0, sp1);
    out.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (line_end != std::string::npos) {
        std::size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos
                                                                            : line_end - start);
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        out.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
    if (lower(out.header("expect")) == "100-continue" &&
        !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n"))
        return false;
    std::size_t length = 0;
    if (!out.header("content-length").empty())
        length = std::stoul(out.header("content-length"));
    while (buffer.size() < length)
        if (!fill())
            return false;
    out.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
}

void FakeHttpServer::serve(int fd) {
    std::string buffer;
    Request req;
    while (read_request(fd, buffer, req)) {
        int index;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            index = static_cast<int>(requests_.size());
            requests_.push_back(req);
        }
        Response res = script_(req, index);
        if (res.delay_ms > 0)
            sleep_unless_stopped(res.delay_ms);
        if (stop_)
            return;
        std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason(res.status) +
                          "\r\nContent-Length: " + std::to_string(res.body.size()) + "\r\n";
        for (const auto& [k, v] : res.headers)
            out += k + ": " + v + "\r\n";
        out += "\r\n" + res.body;
        if (!send_all(fd, out))
            return;
        if (lower(req.header("connection")) == "close")
            return;
    }
}

} // namespace testsupport
