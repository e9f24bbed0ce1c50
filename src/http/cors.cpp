#include "http/cors.hpp"

#include <cctype>

namespace conveyor {

namespace {

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// An origin as browsers send it (RFC 6454): scheme "://" host [":" port], nothing else. Answers
// it in lower case, or an error.
std::variant<std::string, std::string> canonical_origin(const std::string& text) {
    auto o = lower(text);
    auto sep = o.find("://");
    if (sep == std::string::npos || sep == 0)
        return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                      "must look like https://host[:port]");
    for (size_t i = 0; i < sep; ++i)
        if (!std::isalnum(static_cast<unsigned char>(o[i])) && o[i] != '+' && o[i] != '-' &&
            o[i] != '.')
            return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                          "has an invalid scheme");
    auto rest = o.substr(sep + 3);
    if (rest.empty())
        return std::variant<std::string, std::string>(std::in_place_index<1>, "has no host");
    auto colon = rest.rfind(':');
    auto bracket = rest.rfind(']');
    std::string host = rest, port;
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (port.empty() || port.size() > 5)
            return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                          "has an invalid port");
        for (char c : port)
            if (!std::isdigit(static_cast<unsigned char>(c)))
                return std::variant<std::string, std::string>(std::in_place_index<1>,
                                                              "has an invalid port");
    }
    if (host.empty())
        return std::variant<std::string, std::string>(std::in_place_index<1>, "has no host");
    for (char c : host)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '[' &&
            c != ']' && c != ':')
            return std::variant<std::string, std::string>(
                std::in_place_index<1>, "must be scheme://host[:port] without a path");
    return std::variant<std::string, std::string>(std::in_place_index<0>, o);
}

} // namespace

std::variant<CorsPolicy, std::string> parse_cors_origins(const std::string& text) {
    CorsPolicy policy;
    std::string item;
    for (size_t i = 0; i <= text.size(); ++i) {
        if (i < text.size() && text[i] != ',') {
            item += text[i];
            continue;
        }
        // Spaces around an item are for readability; inside one they make it invalid.
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (item.empty())
            continue;
        if (item == "*") {
            policy.any = true;
        } else {
            auto o = canonical_origin(item);
            if (o.index() == 1)
                return "'" + item + "' " + std::get<1>(o);
            policy.origins.push_back(std::get<0>(o));
        }
        item.clear();
    }
    if (!policy.enabled())
        return std::string("holds no origin (use * or a list such as https://app.example.com)");
    return policy;
}

std::optional<std::string> cors_allow_origin(const CorsPolicy& policy, const std::string& origin) {
    if (origin.empty() || !policy.enabled())
        return std::nullopt;
    if (policy.any)
        return std::string("*");
    auto o = canonical_origin(origin);
    if (o.index() != 0)
        return std::nullopt;
    for (const auto& allowed : policy.origins)
        if (allowed == std::get<0>(o))
            return origin;
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> cors_headers(const CorsPolicy& policy,
                                                              const std::string& allowed) {
    std::vector<std::pair<std::string, std::string>> h{
        {"Access-Control-Allow-Origin", allowed},
        // What a page needs to read: the next page, a new job, when to retry, why refused.
        {"Access-Control-Expose-Headers", "Link, Location, Retry-After, WWW-Authenticate"}};
    // The answer differs by Origin: caches must not hand one origin's answer to another.
    if (!policy.any)
        h.emplace_back("Vary", "Origin");
    return h;
}

std::vector<std::pair<std::string, std::string>> cors_preflight_headers(const std::string& allow) {
    return {{"Access-Control-Allow-Methods", allow},
            {"Access-Control-Allow-Headers",
             "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"},
            {"Access-Control-Max-Age", "600"}};
}

} // namespace conveyor
