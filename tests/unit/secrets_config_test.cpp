// Protected mode, the read-only token and secrets from files (issue 17), at the config level.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "config.hpp"
#include "support/secret_file.hpp"

using namespace conveyor;
using testsupport::SecretFile;

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

TEST_CASE("protected mode: no API_TOKEN on a non-loopback HOST stops start-up") {
    auto e = error_of({{"HOST", "0.0.0.0"}});
    CHECK(e.rfind("API_TOKEN:", 0) == 0);
    CHECK(e.find("ALLOW_UNAUTHENTICATED=true") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(error_of({{"HOST", "::"}}).rfind("API_TOKEN:", 0) == 0);
    CHECK(error_of({{"HOST", "192.168.1.10"}}).rfind("API_TOKEN:", 0) == 0);
    CHECK_NOTHROW(parse({{"HOST", "0.0.0.0"}, {"ALLOW_UNAUTHENTICATED", "true"}}));
    CHECK_NOTHROW(parse({{"HOST", "0.0.0.0"}, {"API_TOKEN", "t"}}));
    for (auto loopback : {"127.0.0.1", "127.0.0.2", "::1", "localhost"})
        CHECK_NOTHROW(parse({{"HOST", loopback}}));
    // `migrate` serves nothing.
    CHECK_NOTHROW(parse({{"HOST", "0.0.0.0"}}, {"migrate"}));
    CHECK(error_of({{"ALLOW_UNAUTHENTICATED", "maybe"}}).rfind("ALLOW_UNAUTHENTICATED:", 0) == 0);
}

TEST_CASE("API_READ_TOKEN needs API_TOKEN and must differ from it") {
    CHECK(error_of({{"API_READ_TOKEN", "r"}}).rfind("API_READ_TOKEN:", 0) == 0);
    CHECK(
        error_of({{"API_READ_TOKEN", "same"}, {"API_TOKEN", "same"}}).rfind("API_READ_TOKEN:", 0) ==
        0);
    auto c = parse({{"API_READ_TOKEN", "r"}, {"API_TOKEN", "w"}}).config;
    CHECK(c.api_read_token == "r");
    CHECK(c.api_token == "w");
}

TEST_CASE("secrets come from *_FILE variables, less one trailing newline") {
    SecretFile token("tok-from-file\n"), smtp("smtp-pw\r\n"), bot("123:bot"),
        db("postgresql://u:dbpw@localhost/x\n");
    auto c = parse({{"API_TOKEN_FILE", token.path},
                    {"SMTP_PASSWORD_FILE", smtp.path},
                    {"TELEGRAM_BOT_TOKEN_FILE", bot.path},
                    {"DATABASE_URL_FILE", db.path}})
                 .config;
    CHECK(c.api_token == "tok-from-file");
    CHECK(c.smtp_password == "smtp-pw");
    CHECK(c.telegram_bot_token == "123:bot");
    CHECK(c.database_url == "postgresql://u:dbpw@localhost/x");
    CHECK(parse({}, {"--api-token-file", token.path.c_str()}).config.api_token == "tok-from-file");
}

TEST_CASE("secret files: both forms, a missing file or an empty one stop start-up unquoted") {
    SecretFile token("s3cret-token"), empty("\n");
    auto both = error_of({{"API_TOKEN", "s3cret-token"}, {"API_TOKEN_FILE", token.path}});
    CHECK(both.rfind("API_TOKEN_FILE:", 0) == 0);
    CHECK(both.find("s3cret-token") == std::string::npos);
    auto missing = error_of({{"SMTP_PASSWORD_FILE", "/nonexistent/pw"}});
    CHECK(missing.rfind("SMTP_PASSWORD_FILE: cannot read '/nonexistent/pw'", 0) == 0);
    CHECK(error_of({{"TELEGRAM_BOT_TOKEN_FILE", empty.path}}).find("is empty") !=
          std::string::npos);
}

TEST_CASE("a bad URL setting never echoes its value, which may hold a password") {
    SecretFile db("mysql://u:filepw@db/x");
    for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"DATABASE_URL", "mysql://u:hunter2@db/x"},
             {"DATABASE_URL", "host=db password=hunter2"},
             {"SMTP_URL", "ftp://u:hunter2@mail"},
             {"TELEGRAM_API_URL", "ftp://hunter2@api"}}) {
        auto e = error_of({{name, value}});
        INFO(e);
        CHECK(e.rfind(name + ":", 0) == 0);
        CHECK(e.find("hunter2") == std::string::npos);
    }
    auto e = error_of({{"DATABASE_URL_FILE", db.path}});
    CHECK(e.rfind("DATABASE_URL_FILE:", 0) == 0);
    CHECK(e.find("filepw") == std::string::npos);
}
