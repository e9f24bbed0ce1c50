// `webhook`: one HTTP request (libcurl).
// Payload: {"url": str, "method"?: "POST"|"PUT"|"PATCH"|"DELETE"|"GET", "headers"?: {str: str},
//           "body"?: any, "timeout_ms"?: int}
// Every request carries the Standard Webhooks headers (standardwebhooks.com): webhook-id (the
// job id, the same on every attempt), webhook-timestamp (unix seconds) and, with
// WEBHOOK_SIGNING_SECRET set, webhook-signature; plus Conveyor-Attempt.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"
#include "handlers/webhook_signature.hpp"
#include "net/address_policy.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace conveyor {

namespace {

using nlohmann::json;

constexpr long kDefaultTimeoutMs = 10000;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;
constexpr std::size_t kExcerptBytes = 512;

const char* const kMethods[] = {"POST", "PUT", "PATCH", "DELETE", "GET"};
// Fields that steer the request; everything else is the default body.
const char* const kRoutingFields[] = {"url", "method", "headers", "timeout_ms"};
// Headers Conveyor sets on every request; a payload may not give them (lower case).
const char* const kOwnHeaders[] = {"content-length",    "transfer-encoding", "webhook-id",
                                   "webhook-timestamp", "webhook-signature", "conveyor-attempt"};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool is_token(const std::string& s) {
    if (s.empty())
        return false;
    for (unsigned char c : s)
        if (!std::isalnum(c) && !std::strchr("!#$%&'*+-.^_`|~", c))
            return false;
    return true;
}

struct Url {
    std::string scheme, password, host;
    int port = 0;
};

// Parsed with libcurl's own parser so that what passes here is what libcurl will request.
std::optional<Url> parse_url(const std::string& s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c == 0x7F)
            return std::nullopt;
    std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
    if (!u || curl_url_set(u.get(), CURLUPART_URL, s.c_str(), 0) != CURLUE_OK)
        return std::nullopt;
    Url out;
    auto part = [&](CURLUPart which, std::string& into) {
        char* v = nullptr;
        if (curl_url_get(u.get(), which, &v, 0) == CURLUE_OK && v)
            into = v;
        curl_free(v);
    };
    part(CURLUPART_SCHEME, out.scheme);
    part(CURLUPART_PASSWORD, out.password);
    part(CURLUPART_HOST, out.host);
    out.scheme = lower(out.scheme);
    out.host = lower(out.host);
    char* port = nullptr;
    if (curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port)
        out.port = std::atoi(port);
    curl_free(port);
    return out;
}

std::string method_of(const json& p) {
    return p.value("method", std::string("POST"));
}

// What libcurl is about to connect to is checked here, after name resolution and for every
// address it tries, so DNS rebinding, numeric spellings (http://2852039166/) and IPv4-mapped IPv6
// all meet the same rules. A refused address gets no socket, so no packet is sent.
struct TargetGuard {
    const Url* url;
    bool deny_private;
    const AllowList* allow;
    std::optional<std::string> refused; // the first refusal, for last_error

    static curl_socket_t open(void* self, curlsocktype, curl_sockaddr* a) {
        auto& g = *static_cast<TargetGuard*>(self);
        std::optional<IpAddress> ip;
        if (a->family == AF_INET && a->addrlen >= sizeof(sockaddr_in))
            ip = ip_from_bytes(reinterpret_cast<const std::uint8_t*>(
                                   &reinterpret_cast<const sockaddr_in*>(&a->addr)->sin_addr),
                               false);
        else if (a->family == AF_INET6 && a->addrlen >= sizeof(sockaddr_in6))
            ip = ip_from_bytes(reinterpret_cast<const std::uint8_t*>(
                                   &reinterpret_cast<const sockaddr_in6*>(&a->addr)->sin6_addr),
                               true);
        std::optional<std::string> why =
            ip ? check_webhook_target(g.url->host, g.url->port, *ip, g.deny_private, *g.allow)
               : std::optional<std::string>("webhook target refused: not an IP address");
        if (why) {
            if (!g.refused)
                g.refused = why;
            return CURL_SOCKET_BAD;
        }
        return socket(a->family, a->socktype, a->protocol);
    }
};

class WebhookHandler final : public Handler {
  public:
    WebhookHandler(AllowList allow, bool deny_private, std::string signing_key)
        : allow_(std::move(allow)), deny_private_(deny_private),
          signing_key_(std::move(signing_key)) {}

    std::optional<std::string> validate(const json& p) const override {
        auto url = p.find("url");
        if (url == p.end() || !url->is_string())
            return "url is required (a string)";
        auto parsed = parse_url(url->get<std::string>());
        if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https"))
            return "url must be an absolute http:// or https:// URL";
        // Checked again before every attempt, so a list changed at restart applies to queued jobs.
        // What can be decided from the URL alone is refused here (an address literal, a name no
        // rule could allow); the address connected to is checked by TargetGuard.
        if (auto ip = parse_ip(parsed->host)) {
            if (auto why =
                    check_webhook_target(parsed->host, parsed->port, *ip, deny_private_, allow_))
                return "url: " + curl::excerpt(*why, 300);
        } else if (!allow_.may_allow(parsed->host, parsed->port)) {
            return "url host '" + curl::excerpt(parsed->host, 100) + ":" +
                   std::to_string(parsed->port) + "' is not in WEBHOOK_ALLOWED_HOSTS";
        }
        if (auto m = p.find("method"); m != p.end()) {
            if (!m->is_string() || std::none_of(std::begin(kMethods), std::end(kMethods),
                                                [&](const char* k) { return *m == k; }))
                return "method must be one of POST, PUT, PATCH, DELETE, GET";
        }
        if (auto h = p.find("headers"); h != p.end()) {
            if (!h->is_object())
                return "headers must be an object of string values";
            for (const auto& [name, value] : h->items()) {
                std::string field = "headers[\"" + curl::excerpt(name, 100) + "\"]";
                if (curl::has_crlf(name) ||
                    (value.is_string() && curl::has_crlf(value.get<std::string>())))
                    return field + " must not contain CR or LF";
                if (!is_token(name))
                    return field + ": not a valid header name";
                if (!value.is_string())
                    return field + " must be a string";
                if (value.get<std::string>().find('\0') != std::string::npos)
                    return field + " must not contain NUL";
                auto l = lower(name);
                // Behind an allowed address (a reverse proxy, a shared load balancer) another
                // Host reaches other virtual hosts: the URL alone decides where a request goes.
                if (l == "host")
                    return field + " is refused: the Host header comes from url";
                // Framing is libcurl's job (a wrong value would corrupt the connection); the
                // Standard Webhooks headers are what a receiver trusts.
                if (std::any_of(std::begin(kOwnHeaders), std::end(kOwnHeaders),
                                [&](const char* k) { return l == k; }))
                    return field + " is set by Conveyor and cannot be given";
            }
        }
        if (auto t = p.find("timeout_ms"); t != p.end()) {
            if (!t->is_number_integer() || t->get<long long>() < 1 ||
                t->get<long long>() > 86400000)
                return "timeout_ms must be an integer in 1..86400000";
        }
        return std::nullopt;
    }

    HandlerResult run(const json& p, const HandlerContext& ctx) const override {
        auto url = p["url"].get<std::string>();
        Url target = parse_url(url).value_or(Url{});
        // The URL may carry credentials (user:password@host); they must not reach last_error.
        std::string secret = target.password;
        auto timeout = curl::timeout_ms(p.value("timeout_ms", kDefaultTimeoutMs), ctx);
        if (!timeout)
            return HandlerResult::retry("timeout: no time left for the request");

        std::string method = method_of(p);
        std::optional<std::string> body = body_of(p, method);

        curl::Easy easy;
        CURL* h = easy.get();
        curl::SlistPtr headers;
        bool has_content_type = false;
        if (auto it = p.find("headers"); it != p.end()) {
            for (const auto& [name, value] : it->items()) {
                has_content_type = has_content_type || lower(name) == "content-type";
                auto v = value.get<std::string>();
                // "Name:" would make libcurl drop the header; "Name;" sends it empty.
                curl::append(headers, v.empty() ? name + ";" : name + ": " + v);
            }
        }
        if (body && !has_content_type)
            curl::append(headers, "Content-Type: application/json");
        // No 100-continue round trip: the body is small and already in memory.
        curl::append(headers, "Expect:");
        long long timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
        curl::append(headers, "webhook-id: " + ctx.job.id);
        curl::append(headers, "webhook-timestamp: " + std::to_string(timestamp));
        if (!signing_key_.empty())
            curl::append(headers, "webhook-signature: " + standard_webhook_signature(
                                                              signing_key_, ctx.job.id, timestamp,
                                                              body.value_or(std::string())));
        curl::append(headers, "Conveyor-Attempt: " + std::to_string(ctx.job.attempt));

        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "conveyor-webhook/1");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, *timeout);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
        } else {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        if (method != (body ? "POST" : "GET"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        TargetGuard guard{&target, deny_private_, &allow_, std::nullopt};
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &TargetGuard::open);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
        curl::CappedBody response(kMaxResponseBytes);
        curl::collect_body(h, response);

        CURLcode code = curl::perform(h, ctx);
        if (code != CURLE_OK && guard.refused)
            return HandlerResult::fail(curl::excerpt(curl::scrub(*guard.refused, secret), 500));
        if (code != CURLE_OK && !curl::stopped_at_cap(code, response))
            return curl::network_failure(code, easy.describe(code, secret));

        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
            return HandlerResult::ok();
        std::string prefix = "HTTP " + std::to_string(status);
        if (status >= 300 && status < 400) {
            char* location = nullptr;
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
            return HandlerResult::fail(
                prefix + ": redirect to " +
                (location ? curl::excerpt(curl::scrub(location, secret), kExcerptBytes)
                          : std::string("(no Location)")) +
                " not followed");
        }
        std::string msg = prefix + ": " + curl::excerpt(response.data, kExcerptBytes);
        if (status == 408 || status == 429 || status >= 500)
            return HandlerResult::retry(msg);
        return HandlerResult::fail(msg);
    }

  private:
    // A string body goes out verbatim (pre-serialised JSON, form data with its own
    // Content-Type); other values are serialised. Without "body", POST/PUT/PATCH send the
    // payload minus its routing fields, while GET and DELETE send nothing.
    static std::optional<std::string> body_of(const json& p, const std::string& method) {
        if (auto b = p.find("body"); b != p.end())
            return b->is_string() ? b->get<std::string>() : b->dump();
        if (method == "GET" || method == "DELETE")
            return std::nullopt;
        json rest = p;
        for (const char* f : kRoutingFields)
            rest.erase(f);
        return rest.dump();
    }

  private:
    AllowList allow_; // no rules: any host not refused by address
    bool deny_private_;
    std::string signing_key_; // empty: requests are not signed
};

} // namespace

std::unique_ptr<Handler> make_webhook_handler(const Config& cfg) {
    std::string list;
    for (const auto& h : cfg.webhook_allowed_hosts)
        list += h + ",";
    auto allow = parse_allow_list(list);
    // Config refuses a list that does not parse; never fall back to allowing everything.
    if (auto* error = std::get_if<std::string>(&allow))
        throw std::invalid_argument("WEBHOOK_ALLOWED_HOSTS: " + *error);
    return std::make_unique<WebhookHandler>(std::get<AllowList>(std::move(allow)),
                                            cfg.webhook_deny_private, cfg.webhook_signing_key);
}

} // namespace conveyor
