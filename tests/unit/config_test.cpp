#include <catch2/catch.hpp>

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
    auto h = help_text();
    for (auto name : {"DATABASE_URL",
                      "HOST",
                      "PORT",
                      "WORKER_CONCURRENCY",
                      "POLL_INTERVAL_MS",
                      "REAPER_INTERVAL_S",
                      "STALE_AFTER_S",
                      "HEARTBEAT_INTERVAL_S",
                      "JOB_TIMEOUT_S",
                      "BACKOFF_BASE_MS",
                      "BACKOFF_MAX_S",
                      "SHUTDOWN_TIMEOUT_S",
                      "MAX_BODY_BYTES",
                      "SSE_KEEPALIVE_S",
                      "SSE_MAX_SUBSCRIBERS",
                      "SMTP_URL",
                      "SMTP_USERNAME",
                      "SMTP_PASSWORD",
                      "FROM_EMAIL",
                      "API_TOKEN",
                      "LOG_LEVEL"})
        CHECK(h.find(name) != std::string::npos);
    CHECK(parse({}, {"--help"}).command == Command::help);
    CHECK(parse({}, {"migrate"}).command == Command::migrate);
}

TEST_CASE("backoff is min(base * 5^(n-1), max)") {
    Config c;
    CHECK(c.backoff_after(1).count() == 1000);
    CHECK(c.backoff_after(2).count() == 5000);
    CHECK(c.backoff_after(3).count() == 25000);
    CHECK(c.backoff_after(20).count() == 3600000);
}
