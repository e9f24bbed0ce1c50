// Protected mode and secrets from files through the real binary (issue 17): what start-up prints
// is checked for every secret it was given.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/secret_file.hpp"
#include "support/server_process.hpp"

using namespace testsupport;

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

} // namespace

TEST_CASE("protected mode: no API_TOKEN on a non-loopback HOST refuses to start, in one line") {
    TestDatabase db;
    ServerProcess p(conveyor_binary(), {{"DATABASE_URL", db.url()}, {"HOST", "0.0.0.0"}});
    CHECK(p.wait_exit() == 2);
    // The log is read by another thread: it may trail the exit a little.
    CHECK(wait_until([&] { return p.log_contains("ALLOW_UNAUTHENTICATED=true"); },
                     std::chrono::seconds(5)));
    auto log = trimmed(p.log());
    INFO(log);
    CHECK(log.find('\n') == std::string::npos);
    CHECK(log.find("API_TOKEN") != std::string::npos);
    CHECK(log.find("ALLOW_UNAUTHENTICATED=true") != std::string::npos);
}

TEST_CASE("protected mode: ALLOW_UNAUTHENTICATED=true serves every address, with a warning") {
    TestDatabase db;
    ServerProcess p(
        conveyor_binary(),
        {{"DATABASE_URL", db.url()}, {"HOST", "0.0.0.0"}, {"ALLOW_UNAUTHENTICATED", "true"}});
    REQUIRE(p.wait_ready());
    CHECK(http_get(p.base_url() + "/jobs").status == 200);
    CHECK(p.log_contains("without API_TOKEN"));
}

TEST_CASE("secrets from files: API_TOKEN_FILE and DATABASE_URL_FILE work and are never logged") {
    TestDatabase db;
    const std::string token = "file-token-3e8a1c5d7f9b2e4a";
    SecretFile token_file(token + "\n"), url_file(db.url() + "\n");
    ServerProcess p(conveyor_binary(), {{"DATABASE_URL_FILE", url_file.path},
                                        {"API_TOKEN_FILE", token_file.path},
                                        {"HOST", "0.0.0.0"},
                                        {"LOG_LEVEL", "debug"}});
    REQUIRE(p.wait_ready());
    CHECK(http_get(p.base_url() + "/jobs").status == 401);
    CHECK(http_get(p.base_url() + "/jobs", {"Authorization: Bearer " + token}).status == 200);
    // The file's newline is not part of the token.
    CHECK(http_get(p.base_url() + "/jobs", {"Authorization: Bearer " + token + "x"}).status == 401);
    CHECK_FALSE(p.log_contains(token));
}

TEST_CASE("a database URL's password never reaches the output of a failed start") {
    // Not a postgresql:// URI: refused before any connection.
    ServerProcess bad_scheme(conveyor_binary(),
                             {{"DATABASE_URL", "mysql://conveyor:hunter2-db@localhost/x"}});
    CHECK(bad_scheme.wait_exit() == 2);
    CHECK(wait_until([&] { return bad_scheme.log_contains("DATABASE_URL"); },
                     std::chrono::seconds(5)));
    CHECK_FALSE(bad_scheme.log_contains("hunter2"));

    // libpq quotes a malformed percent-escape, which here sits in the password.
    ServerProcess malformed(conveyor_binary(),
                            {{"DATABASE_URL", "postgresql://conveyor:hunter2%zz@127.0.0.1:1/x"}});
    REQUIRE(wait_until([&] { return malformed.log_contains("database not reachable"); },
                       std::chrono::seconds(20)));
    INFO(malformed.log());
    CHECK_FALSE(malformed.log_contains("hunter2"));
    malformed.signal(SIGKILL);

    // An unreachable server with a password in the URI and in password=.
    ServerProcess unreachable(
        conveyor_binary(),
        {{"DATABASE_URL", "postgresql://conveyor:hunter3@127.0.0.1:1/x?password=hunter4"}});
    REQUIRE(wait_until([&] { return unreachable.log_contains("database not reachable"); },
                       std::chrono::seconds(20)));
    INFO(unreachable.log());
    CHECK_FALSE(unreachable.log_contains("hunter3"));
    CHECK_FALSE(unreachable.log_contains("hunter4"));
    unreachable.signal(SIGKILL);
}
