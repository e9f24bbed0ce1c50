#pragma once
// CORS_ALLOWED_ORIGINS (SPEC §11): which browser origins may call the API and /events. Pure
// functions, no RESTinio: the server adds what they answer to its responses.
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace conveyor {

struct CorsPolicy {
    bool any = false;                 // `*`
    std::vector<std::string> origins; // canonical `scheme://host[:port]`, lower case
    bool enabled() const { return any || !origins.empty(); }
};

// Parses `*` or a comma list of origins (`https://app.example.com,http://localhost:8080`);
// answers the policy or a sentence saying what is wrong.
std::variant<CorsPolicy, std::string> parse_cors_origins(const std::string& text);

// The Access-Control-Allow-Origin value for a request from `origin`, or none when it is not
// allowed (then no CORS header is sent and the browser keeps the answer from the page).
std::optional<std::string> cors_allow_origin(const CorsPolicy& policy, const std::string& origin);

// Headers of every answer to an allowed origin (Vary, exposed headers), after the allow-origin.
std::vector<std::pair<std::string, std::string>> cors_headers(const CorsPolicy& policy,
                                                              const std::string& allowed);

// Extra headers of a preflight (OPTIONS) answer for a path whose methods are `allow`.
std::vector<std::pair<std::string, std::string>> cors_preflight_headers(const std::string& allow);

} // namespace conveyor
