#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testsupport {

struct SseEvent {
    std::string id, event, data;
};

// A real streaming client (libcurl) reading GET /events on its own thread.
class SseClient {
  public:
    explicit SseClient(const std::string& url, std::vector<std::string> headers = {});
    ~SseClient();
    SseClient(const SseClient&) = delete;
    SseClient& operator=(const SseClient&) = delete;

    std::vector<SseEvent> events() const; // complete events so far (comments excluded)
    size_t count() const;
    std::string raw() const; // everything received, comments included
    long status() const { return status_; }
    // libcurl's result once finished(): CURLE_OK (0) only for a stream the server ended cleanly.
    int curl_code() const { return curl_code_; }
    // A response header (lower-case name) once the headers have arrived; "" otherwise.
    std::string header(const std::string& lower_name) const;
    bool finished() const { return finished_; } // the server ended the stream
    void stop();                                // disconnect

  private:
    static size_t on_data(char* p, size_t s, size_t n, void* self);
    static size_t on_header(char* p, size_t s, size_t n, void* self);
    void parse();
    std::thread thread_;
    mutable std::mutex mutex_;
    std::string raw_, buffer_;
    std::vector<SseEvent> events_;
    std::map<std::string, std::string> headers_;
    std::atomic<bool> stop_{false}, finished_{false};
    std::atomic<long> status_{0};
    std::atomic<int> curl_code_{-1};
};

} // namespace testsupport
