#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "config.hpp"

using namespace conveyor;

namespace {
ParsedArgs parse(std::map<std::string, std::string> env, std::vector<const char*> args = {}) {
    args.insert(args.begin(), "conveyor");
    return parse_config(static_cast<int>(args.size()), args.data(), &env);
}
std::string error_of(std::map<std::string, std::string> env, std::vector<const char*> args = {}) {
    try {
        parse(std::move(env), std::move(args));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("defaults match SPEC section 2") {
    auto c = parse({}).config;
    CHECK(c.host == "127.0.0.1");
    CHECK(c.port == 3000);
    CHECK(c.worker_concurrency == 10);
    CHECK(c.poll_interval_ms == 2000);
    CHECK(c.reaper_interval_s == 300);
    CHECK(c.stale_after_s == 300);
    CHECK(c.heartbeat_interval_s == 30);
    CHECK(c.job_timeout_s == 120);
    CHECK(c.backoff_base_ms == 1000);
    CHECK(c.backoff_max_s == 3600);
    CHECK(c.shutdown_timeout_s == 30);
    CHECK(c.max_body_bytes == 1048576);
    CHECK(c.sse_keepalive_s == 15);
    CHECK(c.sse_max_subscribers == 10000);
    CHECK(c.log_level == LogLevel::info);
}

TEST_CASE("environment is read and flags override it") {
    auto c = parse({{"PORT", "8080"}, {"WORKER_CONCURRENCY", "4"}}, {"--port", "9090"}).config;
    CHECK(c.port == 9090);
    CHECK(c.worker_concurrency == 4);
    CHECK(parse({}, {"--worker-concurrency=7"}).config.worker_concurrency == 7);
    CHECK(parse({{"DATABASE_URL", "postgresql://u@/db?host=/tmp"}}).config.database_url ==
          "postgresql://u@/db?host=/tmp");
}

TEST_CASE("bad values stop start-up naming the variable") {
    CHECK(error_of({{"PORT", "abc"}}).find("PORT") == 0);
    CHECK(error_of({{"PORT", "70000"}}).find("out of range") != std::string::npos);
    CHECK(error_of({{"WORKER_CONCURRENCY", "0"}}).find("WORKER_CONCURRENCY") == 0);
    CHECK(error_of({{"POLL_INTERVAL_MS", "12x"}}).find("POLL_INTERVAL_MS") == 0);
    CHECK(error_of({{"DATABASE_URL", "mysql://x"}}).find("DATABASE_URL") == 0);
    CHECK(error_of({{"SMTP_URL", "http://x"}}).find("SMTP_URL") == 0);
    CHECK(error_of({{"LOG_LEVEL", "loud"}}).find("LOG_LEVEL") == 0);
    CHECK(error_of({}, {"--nope", "1"}).find("unknown option") != std::string::npos);
    CHECK(error_of({}, {"--port"}).find("missing value") != std::string::npos);
    CHECK(error_of({{"HEARTBEAT_INTERVAL_S", "300"}}).find("HEARTBEAT_INTERVAL_S") == 0);
}

TEST_CASE("help lists every variable with its default") {
    // The list comes from the option table parse_config() reads, so a new option is covered
    // the day it is added.
    auto table = option_table();
    auto h = help_text();
    std::vector<std::string> lines;
    for (std::size_t at = 0, nl; at < h.size(); at = nl + 1) {
        nl = h.find('\n', at);
        if (nl == std::string::npos)
            nl = h.size();
        lines.push_back(h.substr(at, nl - at));
    }
    std::set<std::string> envs, flags;
    for (const auto& o : table) {
        INFO(o.env);
        CHECK(envs.insert(o.env).second);
        CHECK(flags.insert(o.flag).second);
        CHECK_FALSE(o.default_text.empty());
        CHECK_FALSE(o.help.empty());
        // Exactly one help line names the option, and it shows the default.
        std::string label = "--" + o.flag + " / " + o.env + " ";
        auto n = std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.find(label) != std::string::npos;
        });
        CHECK(n == 1);
        for (const auto& l : lines)
            if (l.find(label) != std::string::npos) {
                CHECK(l.find(o.help) != std::string::npos);
                CHECK(l.find("[default: " + o.default_text + "]") != std::string::npos);
            }
        // A default that is a value is one the option accepts, as variable and as flag.
        if (o.default_text.rfind("unset", 0) != 0 && o.default_text[0] != '(') {
            CHECK_NOTHROW(parse({{o.env, o.default_text}}));
            std::string flag = "--" + o.flag + "=" + o.default_text;
            CHECK_NOTHROW(parse({}, {flag.c_str()}));
        }
    }
    // The variables of SPEC section 2 that this build implements are in the table.
    for (auto name : {"DATABASE_URL", "HOST", "PORT", "WORKER_CONCURRENCY", "POLL_INTERVAL_MS",
                      "REAPER_INTERVAL_S", "STALE_AFTER_S", "HEARTBEAT_INTERVAL_S", "JOB_TIMEOUT_S",
                      "BACKOFF_BASE_MS", "BACKOFF_MAX_S", "SHUTDOWN_TIMEOUT_S", "MAX_BODY_BYTES",
                      "SSE_KEEPALIVE_S", "SSE_MAX_SUBSCRIBERS", "SMTP_URL", "SMTP_USERNAME",
                      "SMTP_PASSWORD", "FROM_EMAIL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL",
                      "API_TOKEN", "WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_SIGNING_SECRET", "LOG_LEVEL",
                      "LOG_FORMAT", "HTTP_THREADS", "HTTP_READ_TIMEOUT_S", "DB_READERS",
                      // Security (issue 17).
                      "API_READ_TOKEN", "ALLOW_UNAUTHENTICATED", "API_TOKEN_FILE",
                      "SMTP_PASSWORD_FILE", "TELEGRAM_BOT_TOKEN_FILE", "DATABASE_URL_FILE",
                      "WEBHOOK_DENY_PRIVATE", "SMTP_ALLOW_PLAINTEXT"})
        CHECK(envs.count(name) == 1);
    CHECK(parse({}, {"--help"}).command == Command::help);
    CHECK(parse({}, {"migrate"}).command == Command::migrate);
}

TEST_CASE("WEBHOOK_SIGNING_SECRET is whsec_ and a base64 key, refused otherwise unquoted") {
    CHECK(parse({}).config.webhook_signing_key.empty());
    CHECK(parse({{"WEBHOOK_SIGNING_SECRET", ""}}).config.webhook_signing_key.empty());
    CHECK(parse({{"WEBHOOK_SIGNING_SECRET", "whsec_AAEC/w=="}}).config.webhook_signing_key ==
          std::string("\x00\x01\x02\xff", 4));
    CHECK(parse({}, {"--webhook-signing-secret=whsec_aGVsbG8"}).config.webhook_signing_key ==
          "hello");
    for (std::string bad : {"aGVsbG8=", "WHSEC_aGVsbG8=", "whsec_", "whsec_aGVsbG8=!", "whsec_a",
                            "whsec_aGVs bG8=", "whsec_aGVsbG9="}) {
        INFO(bad);
        auto e = error_of({{"WEBHOOK_SIGNING_SECRET", bad}});
        CHECK(e.find("WEBHOOK_SIGNING_SECRET: ") == 0);
        if (bad != "whsec_") // the message names the prefix itself
            CHECK(e.find(bad) == std::string::npos);
    }
}

TEST_CASE("base64_decode is strict RFC 4648 base64, padding optional") {
    CHECK(base64_decode("") == std::string());
    CHECK(base64_decode("Zg==") == std::string("f"));
    CHECK(base64_decode("Zg") == std::string("f"));
    CHECK(base64_decode("Zm8=") == std::string("fo"));
    CHECK(base64_decode("Zm9v") == std::string("foo"));
    CHECK(base64_decode("Zm9vYmFy") == std::string("foobar"));
    CHECK(base64_decode("+/+/") == std::string("\xfb\xff\xbf"));
    CHECK_FALSE(base64_decode("Zm9v-_")); // base64url alphabet
    CHECK_FALSE(base64_decode("Z"));      // a lone character holds no byte
    CHECK_FALSE(base64_decode("Zg="));    // half padded
    CHECK_FALSE(base64_decode("Z==="));
    CHECK_FALSE(base64_decode("Zh=="));     // non-zero bits after the last byte
    CHECK_FALSE(base64_decode("Zg==Zg==")); // padding inside
}

TEST_CASE("LOG_FORMAT is text or json") {
    CHECK(parse({}).config.log_format == LogFormat::text);
    CHECK(parse({{"LOG_FORMAT", "json"}}).config.log_format == LogFormat::json);
    CHECK(parse({{"LOG_FORMAT", "json"}}, {"--log-format", "text"}).config.log_format ==
          LogFormat::text);
    CHECK(error_of({{"LOG_FORMAT", "yaml"}}) == "LOG_FORMAT: 'yaml' is not one of text, json");
}

TEST_CASE("backoff is min(base * 5^(n-1), max)") {
    Config c;
    CHECK(c.backoff_after(1).count() == 1000);
    CHECK(c.backoff_after(2).count() == 5000);
    CHECK(c.backoff_after(3).count() == 25000);
    CHECK(c.backoff_after(20).count() == 3600000);
}

TEST_CASE(
    "LISTEN_DATABASE_URL defaults to DATABASE_URL, and another URL means DATABASE_URL is pooled") {
    const std::string direct = "postgresql://u@db/conveyor", pooled = "postgresql://u@pgb/conveyor";
    auto same = parse({{"DATABASE_URL", direct}}).config;
    CHECK(same.listen_url() == direct);
    CHECK_FALSE(same.pooled());
    CHECK_FALSE(parse({{"DATABASE_URL", direct}, {"LISTEN_DATABASE_URL", direct}}).config.pooled());
    auto split = parse({{"DATABASE_URL", pooled}, {"LISTEN_DATABASE_URL", direct}}).config;
    CHECK(split.listen_url() == direct);
    CHECK(split.pooled());
    auto bad = error_of({{"LISTEN_DATABASE_URL", "mysql://u:secret@db/x"}});
    CHECK(bad.find("LISTEN_DATABASE_URL") == 0);
    CHECK(bad.find("secret") == std::string::npos);
}
