#include "support/http_client.hpp"

#include <algorithm>

#include <curl/curl.h>

namespace testsupport {

namespace {
size_t on_body(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}
size_t on_header(char* data, size_t size, size_t n, void* out) {
    add_header_line(std::string(data, size * n),
                    *static_cast<std::map<std::string, std::string>*>(out));
    return size * n;
}
} // namespace

void add_header_line(const std::string& line, std::map<std::string, std::string>& headers) {
    auto colon = line.find(':');
    if (colon == std::string::npos)
        return;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    headers[name] = value;
}

HttpResponse http(const std::string& method, const std::string& url, const std::string& body,
                  const std::vector<std::string>& headers, long timeout_ms) {
    HttpResponse r;
    CURL* curl = curl_easy_init();
    curl_slist* list = nullptr;
    for (const auto& h : headers)
        list = curl_slist_append(list, h.c_str());
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "HEAD") // a HEAD answer's Content-Length announces a body that never comes
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (method == "POST" || method == "PUT" || method == "PATCH" || !body.empty()) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return r;
}

} // namespace testsupport
