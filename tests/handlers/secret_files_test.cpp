// TELEGRAM_BOT_TOKEN_FILE and SMTP_PASSWORD_FILE through the real service (issue 17): the secret
// read from a file is the one used, and it never reaches the log.
#include <catch2/catch.hpp>

#include <cstdio>
#include <unistd.h>

#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"
#include "support/secret_file.hpp"
#include "support/smtp_sink.hpp"

using namespace handlertest;
using namespace testsupport;

namespace {} // namespace

TEST_CASE("secret files: the bot token of TELEGRAM_BOT_TOKEN_FILE is used and never logged") {
    const std::string token = "987654321:AAF-file_secret-token";
    SecretFile file(token + "\n");
    FakeHttpServer api([](const Request&, int) {
        return Response{200, R"({"ok":true,"result":{"message_id":1,"chat":{"id":42}}})"};
    });
    TestDatabase db;
    auto s = start_service(
        db, {{"TELEGRAM_API_URL", api.url()}, {"TELEGRAM_BOT_TOKEN_FILE", file.path}});
    auto id = submit(*s, "telegram", {{"chat_id", 42}, {"text", "from a file"}});
    CHECK(wait_for(*s, id, "done")["attempts"] == 1);
    auto reqs = api.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].target == "/bot" + token + "/sendMessage");
    CHECK_FALSE(s->log_contains(token));
    CHECK_FALSE(s->log_contains("AAF-file_secret"));
}

TEST_CASE("secret files: SMTP_PASSWORD_FILE counts as credentials and is never logged") {
    const std::string password = "smtp-file-pw-71c3";
    SecretFile file(password + "\n");
    SmtpSink sink;
    sink.start();
    TestDatabase db;
    std::map<std::string, std::string> env = {{"SMTP_URL", sink.url()},
                                              {"FROM_EMAIL", "sender@example.org"},
                                              {"SMTP_PASSWORD_FILE", file.path}};
    // Without TLS on the sink, a password from a file is refused like any other...
    auto strict = start_service(db, env);
    auto refused =
        submit(*strict, "email", {{"to", "a@example.com"}, {"subject", "s"}, {"text", "t"}});
    CHECK(contains(last_error(wait_for(*strict, refused, "failed")), "STARTTLS"));
    CHECK(sink.messages().empty());
    CHECK_FALSE(strict->log_contains(password));
    strict.reset();
    // ...and with SMTP_ALLOW_PLAINTEXT=true the mail goes out.
    env["SMTP_ALLOW_PLAINTEXT"] = "true";
    auto relaxed = start_service(db, env);
    auto sent =
        submit(*relaxed, "email", {{"to", "b@example.com"}, {"subject", "s"}, {"text", "t"}});
    CHECK(wait_for(*relaxed, sent, "done")["attempts"] == 1);
    CHECK(sink.messages().size() == 1);
    CHECK_FALSE(relaxed->log_contains(password));
}
