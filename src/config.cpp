#include "config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include "net/address_policy.hpp"

namespace conveyor {

bool is_loopback_host(const std::string& host) {
    if (host == "localhost")
        return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::chrono::milliseconds Config::backoff_after(int failed_attempts) const {
    double ms = backoff_base_ms * std::pow(5.0, std::max(0, failed_attempts - 1));
    double cap = backoff_max_s * 1000.0;
    return std::chrono::milliseconds(static_cast<long long>(std::min(ms, cap)));
}

namespace {

struct Option {
    const char* env;
    const char* flag;
    const char* default_text;
    const char* help;
    std::function<void(Config&, const std::string& name, const std::string& value)> apply;
};

long parse_integer(const std::string& name, const std::string& value, long lo, long hi) {
    if (value.empty())
        throw ConfigError(name + ": empty value, expected an integer");
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(value.c_str(), &end, 10);
    if (errno != 0 || end == value.c_str() || *end != '\0')
        throw ConfigError(name + ": '" + value + "' is not an integer");
    if (v < lo || v > hi)
        throw ConfigError(name + ": " + value + " is out of range " + std::to_string(lo) + ".." +
                          std::to_string(hi));
    return v;
}

template <typename Field>
std::function<void(Config&, const std::string&, const std::string&)> integer(Field field, long lo,
                                                                             long hi) {
    return [=](Config& c, const std::string& name, const std::string& value) {
        c.*field = static_cast<std::remove_reference_t<decltype(c.*field)>>(
            parse_integer(name, value, lo, hi));
    };
}

std::function<void(Config&, const std::string&, const std::string&)>
text(std::string Config::*field) {
    return [=](Config& c, const std::string&, const std::string& value) { c.*field = value; };
}

bool has_scheme(const std::string& v, std::initializer_list<const char*> schemes) {
    for (const char* s : schemes) {
        std::string prefix = std::string(s) + "://";
        if (v.size() > prefix.size() && v.compare(0, prefix.size(), prefix) == 0)
            return true;
    }
    return false;
}

// WEBHOOK_SIGNING_SECRET: `whsec_` + base64 key (Standard Webhooks). The value is a secret:
// errors never quote it.
void apply_signing_secret(Config& c, const std::string& n, const std::string& v) {
    c.webhook_signing_key.clear();
    if (v.empty())
        return;
    const std::string prefix = "whsec_";
    if (v.compare(0, prefix.size(), prefix) != 0)
        throw ConfigError(n + ": must be whsec_ followed by a base64 key (the value is not shown)");
    auto key = base64_decode(v.substr(prefix.size()));
    if (!key)
        throw ConfigError(n +
                          ": the part after whsec_ is not valid base64 (the value is not shown)");
    if (key->empty())
        throw ConfigError(n + ": the key after whsec_ is empty");
    c.webhook_signing_key = *key;
}

// A connection URI may hold a password: errors never quote it.
void apply_database_url(Config& c, const std::string& n, const std::string& v) {
    if (!has_scheme(v, {"postgresql", "postgres"}))
        throw ConfigError(n + ": not a postgresql:// or postgres:// connection URI (the value is "
                              "not shown)");
    c.database_url = v;
}

std::function<void(Config&, const std::string&, const std::string&)> boolean(bool Config::*field) {
    return [=](Config& c, const std::string& n, const std::string& v) {
        if (v == "true" || v == "1")
            c.*field = true;
        else if (v == "false" || v == "0" || v.empty())
            c.*field = false;
        else
            throw ConfigError(n + ": '" + v + "' is not true or false");
    };
}

// The whole file, less one trailing newline (editors and `echo` add one). The path is named in
// errors, the content never.
std::string read_secret_file(const std::string& n, const std::string& path) {
    if (path.empty())
        throw ConfigError(n + ": empty path");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(n + ": cannot read '" + path + "': " + std::strerror(errno));
    std::string v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!v.empty() && v.back() == '\n')
        v.pop_back();
    if (!v.empty() && v.back() == '\r')
        v.pop_back();
    if (v.empty())
        throw ConfigError(n + ": '" + path + "' is empty");
    return v;
}

// <NAME>_FILE: the secret of <NAME> read from a file; giving both is ambiguous, so refused.
std::function<void(Config&, const std::string&, const std::string&)>
secret_file(std::string Config::*field, std::string partner) {
    return [=](Config& c, const std::string& n, const std::string& path) {
        auto v = read_secret_file(n, path);
        if (!(c.*field).empty())
            throw ConfigError(n + ": " + partner + " is set too; give only one of them");
        c.*field = v;
    };
}

// Protected mode (as Redis does it): a service reachable from other machines without a token
// would run anyone's jobs, webhooks included. Also refuses token settings that restrict less
// than they seem to.
void check_access_settings(const Config& c) {
    if (!c.api_read_token.empty() && c.api_token.empty())
        throw ConfigError("API_READ_TOKEN: set without API_TOKEN, which would leave every route "
                          "open to anyone; set API_TOKEN too");
    if (!c.api_read_token.empty() && c.api_read_token == c.api_token)
        throw ConfigError("API_READ_TOKEN: must differ from API_TOKEN");
    if (c.api_token.empty() && !c.allow_unauthenticated && !is_loopback_host(c.host))
        throw ConfigError("API_TOKEN: not set while HOST=" + c.host +
                          " is not a loopback address; set API_TOKEN (or API_TOKEN_FILE), or "
                          "ALLOW_UNAUTHENTICATED=true to serve this address without a token");
}

const std::vector<Option>& options() {
    static const std::vector<Option> all = {
        {"DATABASE_URL", "database-url",
         "(required; ./scripts/run sets it to its embedded cluster)", "libpq connection URI",
         [](Config& c, const std::string& n, const std::string& v) {
             apply_database_url(c, n, v);
         }},
        {"LISTEN_DATABASE_URL", "listen-database-url", "(DATABASE_URL)",
         "a direct session connection for LISTEN, for when DATABASE_URL goes through a "
         "transaction-pooling PgBouncer",
         [](Config& c, const std::string& n, const std::string& v) {
             if (!has_scheme(v, {"postgresql", "postgres"}))
                 throw ConfigError(n + ": not a postgresql:// or postgres:// connection URI (the "
                                       "value is not shown)");
             c.listen_database_url = v;
         }},
        {"HOST", "host", "127.0.0.1", "listen address",
         [](Config& c, const std::string& n, const std::string& v) {
             if (v.empty())
                 throw ConfigError(n + ": empty listen address");
             c.host = v;
         }},
        {"PORT", "port", "3000", "listen port (0 picks a free one)",
         integer(&Config::port, 0, 65535)},
        {"WORKER_CONCURRENCY", "worker-concurrency", "10",
         "max jobs executing at once in this process",
         integer(&Config::worker_concurrency, 1, 10000)},
        {"POLL_INTERVAL_MS", "poll-interval-ms", "2000", "fallback poll when no NOTIFY arrives",
         integer(&Config::poll_interval_ms, 10, 3600000)},
        {"REAPER_INTERVAL_S", "reaper-interval-s", "300",
         "how often the reaper looks for lost jobs", integer(&Config::reaper_interval_s, 1, 86400)},
        {"STALE_AFTER_S", "stale-after-s", "300", "a running job whose heartbeat is older is lost",
         integer(&Config::stale_after_s, 1, 86400)},
        {"HEARTBEAT_INTERVAL_S", "heartbeat-interval-s", "30", "heartbeat refresh period",
         integer(&Config::heartbeat_interval_s, 1, 86400)},
        {"JOB_TIMEOUT_S", "job-timeout-s", "120", "an attempt running longer fails with `timeout`",
         integer(&Config::job_timeout_s, 1, 86400)},
        {"BACKOFF_BASE_MS", "backoff-base-ms", "1000", "retry delay after the first failure",
         integer(&Config::backoff_base_ms, 1, 86400000)},
        {"BACKOFF_MAX_S", "backoff-max-s", "3600", "largest retry delay",
         integer(&Config::backoff_max_s, 1, 31536000)},
        {"SHUTDOWN_TIMEOUT_S", "shutdown-timeout-s", "30",
         "grace period for running jobs on SIGTERM",
         integer(&Config::shutdown_timeout_s, 0, 86400)},
        {"MAX_BODY_BYTES", "max-body-bytes", "1048576", "larger request bodies get 413",
         integer(&Config::max_body_bytes, 64, 1073741824)},
        {"SSE_KEEPALIVE_S", "sse-keepalive-s", "15",
         "keep-alive comment period for idle SSE streams",
         integer(&Config::sse_keepalive_s, 1, 3600)},
        {"SSE_MAX_SUBSCRIBERS", "sse-max-subscribers", "10000", "more SSE subscribers get 503",
         integer(&Config::sse_max_subscribers, 1, 1000000)},
        {"SMTP_URL", "smtp-url", "unset", "smtp://host:port or smtps://host:port",
         [](Config& c, const std::string& n, const std::string& v) {
             // The URL may carry credentials: the value is never quoted.
             if (!v.empty() && !has_scheme(v, {"smtp", "smtps"}))
                 throw ConfigError(n + ": not an smtp:// or smtps:// URL (the value is not shown)");
             c.smtp_url = v;
         }},
        {"SMTP_USERNAME", "smtp-username", "unset", "SMTP user", text(&Config::smtp_username)},
        {"SMTP_PASSWORD", "smtp-password", "unset", "SMTP password", text(&Config::smtp_password)},
        {"SMTP_PASSWORD_FILE", "smtp-password-file", "unset", "read SMTP_PASSWORD from this file",
         secret_file(&Config::smtp_password, "SMTP_PASSWORD")},
        {"SMTP_ALLOW_PLAINTEXT", "smtp-allow-plaintext", "false",
         "with SMTP credentials set, allow sending them without STARTTLS (a local relay)",
         boolean(&Config::smtp_allow_plaintext)},
        {"FROM_EMAIL", "from-email", "unset", "sender address of email jobs",
         text(&Config::from_email)},
        {"TELEGRAM_BOT_TOKEN", "telegram-bot-token", "unset", "Bot API token for telegram jobs",
         text(&Config::telegram_bot_token)},
        {"TELEGRAM_BOT_TOKEN_FILE", "telegram-bot-token-file", "unset",
         "read TELEGRAM_BOT_TOKEN from this file",
         secret_file(&Config::telegram_bot_token, "TELEGRAM_BOT_TOKEN")},
        {"TELEGRAM_API_URL", "telegram-api-url", "https://api.telegram.org", "Bot API base URL",
         [](Config& c, const std::string& n, const std::string& v) {
             if (!has_scheme(v, {"http", "https"}))
                 throw ConfigError(n + ": not an http:// or https:// URL (the value is not shown)");
             c.telegram_api_url = v;
         }},
        {"API_TOKEN", "api-token", "unset", "bearer token required on every route but /healthz",
         text(&Config::api_token)},
        // Security hardening (issue 17): files for secrets, the read-only token, protected mode.
        {"API_TOKEN_FILE", "api-token-file", "unset", "read API_TOKEN from this file",
         secret_file(&Config::api_token, "API_TOKEN")},
        {"API_READ_TOKEN", "api-read-token", "unset",
         "bearer token that may only read: GET routes and /events; other methods get 403",
         text(&Config::api_read_token)},
        {"ALLOW_UNAUTHENTICATED", "allow-unauthenticated", "false",
         "serve without API_TOKEN on a HOST that is not a loopback address",
         boolean(&Config::allow_unauthenticated)},
        {"DATABASE_URL_FILE", "database-url-file", "unset", "read DATABASE_URL from this file",
         [](Config& c, const std::string& n, const std::string& path) {
             auto v = read_secret_file(n, path);
             if (!c.database_url.empty())
                 throw ConfigError(n + ": DATABASE_URL is set too; give only one of them");
             apply_database_url(c, n, v);
         }},
        {"WEBHOOK_DENY_PRIVATE", "webhook-deny-private", "false",
         "webhook jobs may not reach loopback, RFC 1918, CGNAT or ULA addresses either",
         boolean(&Config::webhook_deny_private)},
        {"WEBHOOK_ALLOWED_HOSTS", "webhook-allowed-hosts", "unset (any host)",
         "comma-separated host names, host:port and CIDR ranges webhook jobs may call",
         [](Config& c, const std::string& n, const std::string& v) {
             c.webhook_allowed_hosts.clear();
             std::string item;
             for (size_t i = 0; i <= v.size(); ++i) {
                 if (i == v.size() || v[i] == ',') {
                     if (!item.empty())
                         c.webhook_allowed_hosts.push_back(item);
                     item.clear();
                 } else if (v[i] != ' ') {
                     item += static_cast<char>(std::tolower(static_cast<unsigned char>(v[i])));
                 }
             }
             if (!v.empty() && c.webhook_allowed_hosts.empty())
                 throw ConfigError(n + ": '" + v + "' holds no host name");
             auto parsed = parse_allow_list(v);
             if (auto* error = std::get_if<std::string>(&parsed))
                 throw ConfigError(n + ": " + *error);
         }},
        {"WEBHOOK_SIGNING_SECRET", "webhook-signing-secret", "unset (unsigned)",
         "whsec_<base64 key>: sign webhook requests (webhook-signature, standardwebhooks.com)",
         apply_signing_secret},
        {"LOG_LEVEL", "log-level", "info", "debug, info, warn or error",
         [](Config& c, const std::string& n, const std::string& v) {
             if (v == "debug")
                 c.log_level = LogLevel::debug;
             else if (v == "info")
                 c.log_level = LogLevel::info;
             else if (v == "warn")
                 c.log_level = LogLevel::warn;
             else if (v == "error")
                 c.log_level = LogLevel::error;
             else
                 throw ConfigError(n + ": '" + v + "' is not one of debug, info, warn, error");
         }},
        {"LOG_FORMAT", "log-format", "text",
         "text (one line per event) or json (one JSON object per line, for log shippers)",
         [](Config& c, const std::string& n, const std::string& v) {
             if (v == "text")
                 c.log_format = LogFormat::text;
             else if (v == "json")
                 c.log_format = LogFormat::json;
             else
                 throw ConfigError(n + ": '" + v + "' is not one of text, json");
         }},
        {"HTTP_THREADS", "http-threads", "2", "HTTP I/O threads",
         integer(&Config::http_threads, 1, 64)},
        {"HTTP_READ_TIMEOUT_S", "http-read-timeout-s", "30",
         "a connection that does not deliver a whole request in this time is closed (slow clients, "
         "idle keep-alive)",
         integer(&Config::http_read_timeout_s, 1, 3600)},
        {"DB_READERS", "db-readers", "2", "database connections serving GET requests",
         integer(&Config::db_readers, 1, 64)},
        {"QUEUES", "queues", "*",
         "queues this process works, with optional local caps: * or mail:5,default:10,reports",
         text(&Config::queues_setting)},
        // Maintenance (issue 13).
        {"RETENTION_DONE_S", "retention-done-s", "86400",
         "done jobs older than this (by finished_at) are deleted; 0 keeps them",
         integer(&Config::retention_done_s, 0, 315360000)},
        {"RETENTION_FAILED_S", "retention-failed-s", "604800",
         "failed jobs older than this are deleted; 0 keeps them",
         integer(&Config::retention_failed_s, 0, 315360000)},
        {"RETENTION_CANCELLED_S", "retention-cancelled-s", "86400",
         "cancelled jobs older than this are deleted; 0 keeps them",
         integer(&Config::retention_cancelled_s, 0, 315360000)},
        {"IDEMPOTENCY_TTL_S", "idempotency-ttl-s", "86400",
         "how long an Idempotency-Key is remembered: a repeat within it gets the first answer",
         integer(&Config::idempotency_ttl_s, 1, 315360000)},
        {"MAINTAINER_LEASE_S", "maintainer-lease-s", "15",
         "the maintainer lease lasts this long unrenewed: another process takes over within it",
         integer(&Config::maintainer_lease_s, 2, 300)},
        // Watching it (issue 14).
        {"CORS_ALLOWED_ORIGINS", "cors-allowed-origins", "unset (no CORS)",
         "comma list of origins (or *) whose browser pages may call the API and /events",
         [](Config& c, const std::string& n, const std::string& v) {
             auto parsed = parse_cors_origins(v);
             if (auto* error = std::get_if<std::string>(&parsed))
                 throw ConfigError(n + ": " + *error);
             c.cors = std::get<CorsPolicy>(parsed);
         }},
        // Bounded memory per request (issue 17 item 5).
        {"MAX_CONNECTIONS", "max-connections", "12000",
         "open HTTP connections at most, SSE streams included; more wait to be accepted",
         integer(&Config::max_connections, 1, 1000000)},
        // The `slack` job type (README "Adding a job type").
        {"SLACK_WEBHOOK_URL", "slack-webhook-url", "unset",
         "Slack incoming-webhook URL that slack jobs post to",
         [](Config& c, const std::string& n, const std::string& v) {
             if (!v.empty() && !has_scheme(v, {"http", "https"}))
                 throw ConfigError(n + ": not an http:// or https:// URL (the value is not shown)");
             c.slack_webhook_url = v;
         }},
    };
    return all;
}

} // namespace

ParsedArgs parse_config(int argc, const char* const* argv,
                        const std::map<std::string, std::string>* env) {
    ParsedArgs out;
    for (const auto& opt : options()) {
        const char* raw = nullptr;
        std::string holder;
        if (env) {
            auto it = env->find(opt.env);
            if (it != env->end()) {
                holder = it->second;
                raw = holder.c_str();
            }
        } else {
            raw = std::getenv(opt.env);
        }
        if (raw)
            opt.apply(out.config, opt.env, raw);
    }
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            out.command = Command::help;
            return out;
        }
        if (arg == "migrate" || arg == "serve") {
            out.command = arg == "migrate" ? Command::migrate : Command::serve;
            continue;
        }
        if (arg.rfind("--", 0) != 0)
            throw ConfigError("unknown argument '" + arg + "' (see --help)");
        std::string name = arg.substr(2), value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        auto it = std::find_if(options().begin(), options().end(),
                               [&](const Option& o) { return name == o.flag; });
        if (it == options().end())
            throw ConfigError("unknown option '--" + name + "' (see --help)");
        if (!has_value) {
            if (i + 1 >= argc)
                throw ConfigError("--" + name + ": missing value");
            value = argv[++i];
        }
        it->apply(out.config, "--" + name, value);
    }
    auto queues = parse_queues_setting(out.config.queues_setting, out.config.worker_concurrency);
    if (auto* error = std::get_if<std::string>(&queues))
        throw ConfigError("QUEUES: '" + out.config.queues_setting + "': " + *error);
    out.config.queues = std::get<std::vector<QueueCap>>(queues);
    if (out.config.heartbeat_interval_s >= out.config.stale_after_s)
        throw ConfigError(
            "HEARTBEAT_INTERVAL_S: " + std::to_string(out.config.heartbeat_interval_s) +
            " must be smaller than STALE_AFTER_S (" + std::to_string(out.config.stale_after_s) +
            ")");
    if (out.command == Command::serve)
        check_access_settings(out.config);
    return out;
}

std::string help_text() {
    std::ostringstream os;
    os << "conveyor - a PostgreSQL-backed job queue with an HTTP API\n\n"
          "usage: conveyor [serve|migrate] [--option value ...]\n"
          "  serve    (default) apply pending migrations, then run the HTTP API and the workers\n"
          "  migrate  apply pending migrations and exit\n\n"
          "Every option can also be set through its environment variable; flags win.\n\n";
    for (const auto& o : options()) {
        std::string left = std::string("  --") + o.flag + " / " + o.env;
        os << left << std::string(left.size() < 48 ? 48 - left.size() : 1, ' ') << o.help
           << " [default: " << o.default_text << "]\n";
    }
    return os.str();
}

std::vector<OptionInfo> option_table() {
    std::vector<OptionInfo> out;
    for (const auto& o : options())
        out.push_back({o.env, o.flag, o.default_text, o.help});
    return out;
}

std::optional<std::string> base64_decode(const std::string& s) {
    auto value = [](unsigned char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    std::size_t len = s.size();
    if (len % 4 == 0 && len >= 1 && s[len - 1] == '=')
        len -= (len >= 2 && s[len - 2] == '=') ? 2 : 1;
    if (len % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(len * 3 / 4);
    unsigned bits = 0;
    int nbits = 0;
    for (std::size_t i = 0; i < len; ++i) {
        int v = value(static_cast<unsigned char>(s[i]));
        if (v < 0)
            return std::nullopt;
        bits = (bits << 6) | static_cast<unsigned>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out += static_cast<char>((bits >> nbits) & 0xFF);
        }
    }
    // Bits left over past the last byte must be zero (canonical encoding).
    if (nbits > 0 && (bits & ((1u << nbits) - 1)) != 0)
        return std::nullopt;
    return out;
}

} // namespace conveyor
