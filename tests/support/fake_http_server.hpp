#pragma once
// A small threaded HTTP/1.1 server on a free loopback port for the job type tests: records
// every request and answers with whatever the test's script returns (optionally after a
// delay). Keep-alive is supported so that libcurl's connection reuse is exercised.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testsupport {

struct Request {
    std::string method, target;
    std::map<std::string, std::string> headers; // names lower-cased
    std::string body;
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? "" : it->second;
    }
};

struct Response {
    Response(int status = 200, std::string body = "",
             std::vector<std::pair<std::string, std::string>> headers = {})
        : status(status), body(std::move(body)), headers(std::move(headers)) {}
    int status;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    int delay_ms = 0; // before answering; cut short when the server stops
};

class FakeHttpServer {
  public:
    // `index` counts requests from 0 in arrival order.
    using Script = std::function<Response(const Request&, int index)>;

    explicit FakeHttpServer(Script script);
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path = "") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::vector<Request> requests() const;
    std::size_t request_count() const;
    int connections() const { return connections_; }

  private:
    void accept_loop();
    void serve(int fd);
    bool read_request(int fd, std::string& buffer, Request& out);
    void sleep_unless_stopped(int ms);

    Script script_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::condition_variable stopped_;
    std::vector<std::thread> workers_;
    std::vector<Request> requests_;
};

} // namespace testsupport
