#include "support/sse_client.hpp"

#include <curl/curl.h>

#include "support/http_client.hpp"

namespace testsupport {

SseClient::SseClient(const std::string& url, std::vector<std::string> headers) {
    thread_ = std::thread([this, url, headers] {
        CURL* curl = curl_easy_init();
        curl_slist* list = nullptr;
        for (const auto& h : headers)
            list = curl_slist_append(list, h.c_str());
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &SseClient::on_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &SseClient::on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L); // bounded, whatever happens
        curl_easy_setopt(
            curl, CURLOPT_XFERINFOFUNCTION,
            +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                return static_cast<SseClient*>(self)->stop_ ? 1 : 0;
            });
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_code_ = static_cast<int>(curl_easy_perform(curl));
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        status_ = code;
        curl_slist_free_all(list);
        curl_easy_cleanup(curl);
        finished_ = true;
    });
}

SseClient::~SseClient() {
    stop();
}

void SseClient::stop() {
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
}

size_t SseClient::on_data(char* p, size_t s, size_t n, void* self_ptr) {
    auto* self = static_cast<SseClient*>(self_ptr);
    if (self->stop_)
        return 0;
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->raw_.append(p, s * n);
    self->buffer_.append(p, s * n);
    self->parse();
    return s * n;
}

size_t SseClient::on_header(char* p, size_t s, size_t n, void* self_ptr) {
    auto* self = static_cast<SseClient*>(self_ptr);
    std::lock_guard<std::mutex> lock(self->mutex_);
    add_header_line(std::string(p, s * n), self->headers_);
    return s * n;
}

std::string SseClient::header(const std::string& lower_name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = headers_.find(lower_name);
    return it == headers_.end() ? "" : it->second;
}

void SseClient::parse() {
    size_t end;
    while ((end = buffer_.find("\n\n")) != std::string::npos) {
        std::string block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        SseEvent e;
        size_t pos = 0;
        while (pos <= block.size()) {
            auto nl = block.find('\n', pos);
            std::string line =
                block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            if (line.rfind("id: ", 0) == 0)
                e.id = line.substr(4);
            else if (line.rfind("event: ", 0) == 0)
                e.event = line.substr(7);
            else if (line.rfind("data: ", 0) == 0)
                e.data += line.substr(6);
            if (nl == std::string::npos)
                break;
            pos = nl + 1;
        }
        if (!e.event.empty() || !e.data.empty())
            events_.push_back(std::move(e));
    }
}

std::vector<SseEvent> SseClient::events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
}

size_t SseClient::count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_.size();
}

std::string SseClient::raw() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return raw_;
}

} // namespace testsupport
