#pragma once
// The one place where domain outcomes become HTTP: status codes, headers and error bodies.
#include <string>
#include <utility>
#include <vector>

#include "model/outcome.hpp"

namespace conveyor {

struct HttpReply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

HttpReply to_http(RequestOutcome outcome);

// {"error":{"code":..,"message":..}} with the given status.
HttpReply error_reply(int status, const std::string& code, const std::string& message);

// Seconds a client should wait before retrying a 503.
constexpr int kRetryAfterS = 1;

} // namespace conveyor
