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

#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"
#include "handlers/webhook_signature.hpp"

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
    return out;
}

std::string method_of(const json& p) {
    return p.value("method", std::string("POST"));
}

class WebhookHandler final : public Handler {
  public:
    WebhookHandler(std::vector<std::string> allowed_hosts, std::string signing_key)
        : allowed_hosts_(std::move(allowed_hosts)), signing_key_(std::move(signing_key)) {}

    std::optional<std::string> validate(const json& p) const override {
        auto url = p.find("url");
        if (url == p.end() || !url->is_string())
            return "url is required (a string)";
        auto parsed = parse_url(url->get<std::string>());
        if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https"))
            return "url must be an absolute http:// or https:// URL";
        // Checked again before every attempt, so a list changed at restart applies to queued jobs.
        if (!allowed_hosts_.empty() && std::find(allowed_hosts_.begin(), allowed_hosts_.end(),
                                                 parsed->host) == allowed_hosts_.end())
            return "url host '" + curl::excerpt(parsed->host, 100) +
                   "' is not in WEBHOOK_ALLOWED_HOSTS";
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
        // The URL may carry credentials (user:password@host); they must not reach last_error.
        std::string secret = parse_url(url).value_or(Url{}).password;
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
        curl::CappedBody response(kMaxResponseBytes);
        curl::collect_body(h, response);

        CURLcode code = curl_easy_perform(h);
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
    std::vector<std::string> allowed_hosts_; // empty: any host
    std::string signing_key_;                // empty: requests are not signed
};

} // namespace

std::unique_ptr<Handler> make_webhook_handler(const Config& cfg) {
    return std::make_unique<WebhookHandler>(cfg.webhook_allowed_hosts, cfg.webhook_signing_key);
}

} // namespace conveyor
