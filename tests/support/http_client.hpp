#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace testsupport {

struct HttpResponse {
    long status = 0; // 0: no answer (connection failed)
    std::string body;
    std::map<std::string, std::string> headers; // names lower-cased
    nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? "" : it->second;
    }
};

// Adds one raw header line ("Name: value\r\n") to `headers`, the name lower-cased.
void add_header_line(const std::string& line, std::map<std::string, std::string>& headers);

// A real HTTP/1.1 client (libcurl) for talking to the service on loopback.
HttpResponse http(const std::string& method, const std::string& url, const std::string& body = "",
                  const std::vector<std::string>& headers = {"Content-Type: application/json"},
                  long timeout_ms = 10000);

inline HttpResponse http_get(const std::string& url, const std::vector<std::string>& headers = {}) {
    return http("GET", url, "", headers);
}
inline HttpResponse http_post_json(const std::string& url, const std::string& body) {
    return http("POST", url, body);
}

} // namespace testsupport
