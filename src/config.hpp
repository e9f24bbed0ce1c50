#pragma once
// Every setting of SPEC §2 in one struct, parsed and validated in one place.
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/cors.hpp"
#include "model/queues_setting.hpp"

namespace conveyor {

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { text, json };

struct Config {
    std::string database_url; // empty: scripts/run provides the embedded cluster
    // Empty: database_url. Set to another URL, it says database_url goes through a transaction
    // pooler (SPEC §12): LISTEN needs a session of its own, and statements go unnamed.
    std::string listen_database_url;
    const std::string& listen_url() const {
        return listen_database_url.empty() ? database_url : listen_database_url;
    }
    bool pooled() const {
        return !listen_database_url.empty() && listen_database_url != database_url;
    }
    std::string host = "127.0.0.1";
    int port = 3000;
    int worker_concurrency = 10;
    int poll_interval_ms = 2000;
    int reaper_interval_s = 300;
    int stale_after_s = 300;
    int heartbeat_interval_s = 30;
    int job_timeout_s = 120;
    int backoff_base_ms = 1000;
    int backoff_max_s = 3600;
    int shutdown_timeout_s = 30;
    long max_body_bytes = 1048576;
    int sse_keepalive_s = 15;
    int sse_max_subscribers = 10000;
    std::string smtp_url, smtp_username, smtp_password, from_email;
    std::string telegram_bot_token;
    std::string telegram_api_url = "https://api.telegram.org";
    std::string api_token;
    std::vector<std::string> webhook_allowed_hosts; // empty: any host
    // The HMAC key of WEBHOOK_SIGNING_SECRET (`whsec_<base64>`), decoded; empty: unsigned.
    std::string webhook_signing_key;
    LogLevel log_level = LogLevel::info;
    LogFormat log_format = LogFormat::text;
    int http_threads = 2;
    int http_read_timeout_s = 30;
    int db_readers = 2;
    // QUEUES: the text as given, and what it says (empty: every queue, sharing the slots).
    std::string queues_setting = "*";
    std::vector<QueueCap> queues;
    // Maintenance (issue 13): how long finished jobs are kept, by status (0: forever), and how
    // long the maintainer lease lasts without renewal.
    long retention_done_s = 86400;
    long retention_failed_s = 604800;
    long retention_cancelled_s = 86400;
    int maintainer_lease_s = 15;
    // How long an Idempotency-Key is remembered (issue 12).
    long idempotency_ttl_s = 86400;

    // Security hardening (issue 17; SECURITY.md says what each one protects).
    std::string api_read_token;         // API_READ_TOKEN: may only read (GET routes, /events)
    bool allow_unauthenticated = false; // protected mode's opt-out
    bool webhook_deny_private = false;  // also refuse loopback, RFC 1918, CGNAT, ULA targets
    bool smtp_allow_plaintext = false;  // credentials over SMTP without STARTTLS

    // Watching it (issue 14): CORS_ALLOWED_ORIGINS; unset sends no CORS header at all.
    CorsPolicy cors;

    // Bounded memory per request (issue 17 item 5): 10,000 SSE subscribers plus API traffic.
    int max_connections = 12000;
    // The `slack` job type (README "Adding a job type").
    std::string slack_webhook_url;

    // Exponential backoff of SPEC §2: min(base * 5^(n-1), max).
    std::chrono::milliseconds backoff_after(int failed_attempts) const;
};

// Thrown for a bad value; what() is the one line printed before exiting.
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class Command { serve, migrate, help };

struct ParsedArgs {
    Command command = Command::serve;
    Config config;
};

// Reads the environment (through `getenv`) and then argv flags (`--port 3000` or `--port=3000`);
// flags win. Throws ConfigError naming the variable.
ParsedArgs parse_config(int argc, const char* const* argv,
                        const std::map<std::string, std::string>* env = nullptr);

std::string help_text();

// 127.0.0.0/8, ::1 or "localhost": a listen address other machines cannot reach.
bool is_loopback_host(const std::string& host);

// One row of the option table that parse_config() and help_text() are built from.
struct OptionInfo {
    std::string env;          // environment variable, e.g. "PORT"
    std::string flag;         // flag without the dashes, e.g. "port"
    std::string default_text; // as --help prints it
    std::string help;
};
std::vector<OptionInfo> option_table();

// Decodes standard base64 (RFC 4648 §4; the padding may be left out). Empty when `s` is not
// base64.
std::optional<std::string> base64_decode(const std::string& s);

} // namespace conveyor
