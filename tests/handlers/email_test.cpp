// `email` against a real SMTP server (aiosmtpd) and the real service.
#include <catch2/catch.hpp>

#include "support/handler_api.hpp"
#include "support/smtp_sink.hpp"

using namespace handlertest;
using namespace testsupport;

namespace {

const char* kPassword = "hunter2-smtp-secret";

std::map<std::string, std::string> smtp_env(const SmtpSink& sink) {
    return {{"SMTP_URL", sink.url()},
            {"FROM_EMAIL", "sender@example.org"},
            {"SMTP_USERNAME", "mailer"},
            {"SMTP_PASSWORD", kPassword},
            // The sink speaks no TLS: it stands for a local relay.
            {"SMTP_ALLOW_PLAINTEXT", "true"}};
}

std::string header(const json& message, const std::string& name) {
    auto h = message["headers"];
    return h.contains(name) ? h[name][0].get<std::string>() : "";
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// A started SMTP sink and the service sending to it.
struct EmailService {
    SmtpSink sink;
    TestDatabase db;
    std::unique_ptr<ServerProcess> service;
    EmailService() {
        sink.start();
        service = start_service(db, smtp_env(sink));
    }
};

} // namespace

TEST_CASE("email: one job reaches every to, cc and bcc address with both bodies") {
    SmtpSink sink;
    sink.start();
    TestDatabase db;
    auto env = smtp_env(sink);
    env["FROM_EMAIL"] = "Conveyor Bot <sender@example.org>";
    auto s = start_service(db, env);

    json to = json::array();
    for (int i = 0; i < 20; ++i)
        to.push_back("user" + std::to_string(i) + "@example.com");
    std::string long_line(300, 'x');
    std::string text =
        "Hello,\n.a line starting with a dot\n" + long_line + "\nünïcödé = ok  \nbye";
    std::string html = "<p>Hello <b>there</b> &amp; welcome</p>\n<p>" + long_line + "</p>";
    std::string subject = "Grüße — your report is ready (#42)";
    auto id = submit(*s, "email",
                     {{"to", to},
                      {"cc", "boss@example.com"},
                      {"bcc", {"hidden@example.net", "user0@example.com"}},
                      {"subject", subject},
                      {"text", text},
                      {"html", html}});
    auto job = wait_for(*s, id, "done");
    CHECK(job["attempts"] == 1);

    auto messages = sink.messages();
    REQUIRE(messages.size() == 1);
    const json& m = messages[0];
    INFO(m["raw"].get<std::string>());
    CHECK(m["defects"].empty());

    // Envelope: every address once, including the bcc one.
    std::string rcpt = header(m, "x-rcptto");
    for (const auto& a : to)
        CHECK(contains(rcpt, a.get<std::string>()));
    CHECK(contains(rcpt, "boss@example.com"));
    CHECK(contains(rcpt, "hidden@example.net"));
    CHECK(rcpt.find("user0@example.com") == rcpt.rfind("user0@example.com")); // deduplicated
    CHECK(header(m, "x-mailfrom") == "sender@example.org");

    // Headers: bcc addresses never show.
    CHECK_FALSE(m["headers"].contains("bcc"));
    CHECK(contains(header(m, "to"), "user0@example.com"));
    CHECK(contains(header(m, "to"), "user19@example.com"));
    CHECK(header(m, "cc") == "boss@example.com");
    std::string raw_headers = m["raw"].get<std::string>();
    raw_headers = raw_headers.substr(0, raw_headers.find("X-Peer"));
    CHECK_FALSE(contains(raw_headers, "hidden@example.net"));
    CHECK(header(m, "from") == "Conveyor Bot <sender@example.org>");
    CHECK(header(m, "subject") == subject);
    CHECK(header(m, "mime-version") == "1.0");
    CHECK(contains(header(m, "message-id"), id));
    CHECK(m["date_ok"] == true);

    CHECK(m["content_type"] == "multipart/alternative");
    REQUIRE(m["parts"].size() == 2);
    CHECK(m["parts"][0]["content_type"] == "text/plain");
    CHECK(m["parts"][0]["charset"] == "utf-8");
    CHECK(trimmed(m["parts"][0]["content"]) == text);
    CHECK(m["parts"][1]["content_type"] == "text/html");
    CHECK(m["parts"][1]["charset"] == "utf-8");
    CHECK(trimmed(m["parts"][1]["content"]) == html);
}

TEST_CASE("email: html only is a single text/html message") {
    EmailService mail;
    auto& sink = mail.sink;
    auto& s = mail.service;
    auto id = submit(*s, "email",
                     {{"to", "one@example.com"}, {"subject", "Hi"}, {"html", "<h1>Hi</h1>"}});
    wait_for(*s, id, "done");
    auto messages = sink.messages();
    REQUIRE(messages.size() == 1);
    CHECK(messages[0]["content_type"] == "text/html");
    CHECK(messages[0]["parts"][0]["charset"] == "utf-8");
    CHECK(trimmed(messages[0]["parts"][0]["content"]) == "<h1>Hi</h1>");
    CHECK(header(messages[0], "to") == "one@example.com");
}

TEST_CASE("email: an unreachable SMTP server is a transient failure, retried until it is up") {
    SmtpSink sink; // not started yet: the port refuses connections
    TestDatabase db;
    auto env = smtp_env(sink);
    env["BACKOFF_BASE_MS"] = "300";
    auto s = start_service(db, env);
    auto id = submit(*s, "email", {{"to", "late@example.com"}, {"subject", "s"}, {"text", "t"}}, 6);

    json job;
    REQUIRE(wait_until(
        [&] {
            job = get_job(*s, id);
            return job["attempts"] >= 1 && job["last_error"].is_string();
        },
        std::chrono::seconds(20)));
    CHECK(job["status"] != "failed");
    std::string first_error = last_error(job);
    CHECK(contains(first_error, "SMTP"));

    sink.start();
    job = wait_for(*s, id, "done", 90);
    CHECK(job["attempts"] >= 2);
    CHECK_FALSE(last_error(job).empty());
    CHECK(sink.messages().size() == 1);
    CHECK_FALSE(contains(last_error(job), kPassword));
    CHECK_FALSE(s->log_contains(kPassword));
}

TEST_CASE("email: an SMTP 5xx reply is permanent, a 4xx reply transient") {
    EmailService mail;
    auto& sink = mail.sink;
    auto& s = mail.service;
    auto bounce = submit(
        *s, "email",
        {{"to", {"ok@example.com", "bounce@example.com"}}, {"subject", "s"}, {"text", "t"}}, 5);
    auto defer =
        submit(*s, "email", {{"to", "defer@example.com"}, {"subject", "s"}, {"text", "t"}}, 2);

    auto job = wait_for(*s, bounce, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "550"));
    CHECK(contains(last_error(job), "user unknown"));

    job = wait_for(*s, defer, "failed");
    CHECK(job["attempts"] == 2);
    CHECK(contains(last_error(job), "451"));
    CHECK(sink.messages().empty());
    CHECK_FALSE(s->log_contains(kPassword));
}

TEST_CASE("email: CR or LF in a header value is refused at submit and fails a stored job") {
    EmailService mail;
    auto& sink = mail.sink;
    auto& s = mail.service;

    json injected = {{"to", "victim@example.com"},
                     {"subject", "hello\r\nBcc: everyone@example.com"},
                     {"text", "t"}};
    std::string message = rejected(*s, "email", injected);
    CHECK(message == "subject must not contain CR or LF");
    CHECK(contains(rejected(*s, "email",
                            {{"to", {"a@example.com", "b@example.com\nBcc: x@example.com"}},
                             {"subject", "s"},
                             {"text", "t"}}),
                   "to[1] must not contain CR or LF"));
    CHECK(contains(
        rejected(
            *s, "email",
            {{"to", "a@example.com"}, {"cc", "c@example.com\r"}, {"subject", "s"}, {"html", "h"}}),
        "cc must not contain CR or LF"));

    auto id = insert_directly(mail.db, "email", injected, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == message);
    CHECK(sink.messages().empty());
}

TEST_CASE("email: invalid payloads name the field, at submit and when stored directly") {
    TestDatabase db;
    auto s = start_service(db);
    CHECK(contains(rejected(*s, "email", {{"subject", "s"}, {"text", "t"}}), "to"));
    CHECK(
        contains(rejected(*s, "email", {{"to", "not-an-address"}, {"subject", "s"}, {"text", "t"}}),
                 "to must be an email address"));
    CHECK(contains(rejected(*s, "email", {{"to", json::array()}, {"subject", "s"}, {"text", "t"}}),
                   "to"));
    CHECK(contains(
        rejected(*s, "email", {{"to", {"a@example.com", 5}}, {"subject", "s"}, {"text", "t"}}),
        "to[1]"));
    CHECK(contains(rejected(*s, "email", {{"to", "a@example.com"}, {"text", "t"}}), "subject"));
    CHECK(contains(rejected(*s, "email", {{"to", "a@example.com"}, {"subject", "s"}}),
                   "text or html"));
    CHECK(contains(rejected(*s, "email", {{"to", "a@example.com"}, {"subject", "s"}, {"html", 1}}),
                   "html"));
    CHECK(contains(rejected(*s, "email",
                            {{"to", "a@example.com"},
                             {"bcc", "Bob <b@example.com>"},
                             {"subject", "s"},
                             {"text", "t"}}),
                   "bcc"));

    json bad = {{"to", "a@example.com"}, {"subject", "s"}};
    auto message = rejected(*s, "email", bad);
    auto id = insert_directly(db, "email", bad);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == message);
}

TEST_CASE("email: without SMTP_URL the service starts and email jobs fail permanently") {
    TestDatabase db;
    auto s = start_service(db); // no SMTP settings at all
    auto id = submit(*s, "email", {{"to", "a@example.com"}, {"subject", "s"}, {"text", "t"}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "SMTP is not configured"));
}

TEST_CASE("email: with credentials set, a server without STARTTLS receives nothing") {
    SmtpSink sink;
    sink.start();
    TestDatabase db;
    auto env = smtp_env(sink);
    env.erase("SMTP_ALLOW_PLAINTEXT");
    auto s = start_service(db, env);
    auto id = submit(*s, "email", {{"to", "a@example.com"}, {"subject", "s"}, {"text", "t"}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "does not offer STARTTLS"));
    CHECK(contains(last_error(job), "SMTP_ALLOW_PLAINTEXT"));
    CHECK(sink.messages().empty());
    CHECK_FALSE(s->log_contains(kPassword));
}

TEST_CASE("email: more than 100 recipients across to, cc and bcc are refused at submit") {
    TestDatabase db;
    auto s = start_service(db);
    auto addresses = [](const char* prefix, int n) {
        json list = json::array();
        for (int i = 0; i < n; ++i)
            list.push_back(std::string(prefix) + std::to_string(i) + "@example.com");
        return list;
    };
    json full = {{"to", addresses("t", 50)},
                 {"cc", addresses("c", 40)},
                 {"bcc", addresses("b", 10)},
                 {"subject", "s"},
                 {"text", "t"}};
    CHECK(http_post_json(s->base_url() + "/jobs",
                         json{{"job_type", "email"}, {"payload", full}}.dump())
              .status == 201);
    full["bcc"] = addresses("b", 11);
    CHECK(contains(rejected(*s, "email", full), "at most 100"));
}
