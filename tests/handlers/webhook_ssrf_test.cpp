// `webhook` targets that must never be reached (issue 17, SECURITY.md): each case proves the
// refusal happened before any connection, either because a loopback listener saw none or because
// last_error names the rule instead of a network error.
#include <catch2/catch.hpp>

#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"

using namespace handlertest;
using namespace testsupport;

namespace {

Response ok(const Request&, int) {
    return Response{200, "ok"};
}

// Refused at submission (422) and, stored behind the API's back, failed on its first attempt
// with the same rule in last_error.
void refused_everywhere(const TestDatabase& db, const ServerProcess& s, const json& payload,
                        const std::string& rule) {
    INFO(payload.dump());
    CHECK(contains(rejected(s, "webhook", payload), rule));
    auto job = wait_for(s, insert_directly(db, "webhook", payload, 3), "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), rule));
}

} // namespace

TEST_CASE("webhook SSRF: metadata and link-local targets are refused in every spelling") {
    FakeHttpServer loopback(ok);
    TestDatabase db;
    auto s = start_service(db);
    const std::string link_local = "169.254.169.254 is a link-local address";
    refused_everywhere(db, *s, {{"url", "http://169.254.169.254/latest/meta-data/"}}, link_local);
    // 2852039166 is 169.254.169.254 written as one decimal number.
    refused_everywhere(db, *s, {{"url", "http://2852039166/latest/meta-data/"}}, link_local);
    refused_everywhere(db, *s, {{"url", "http://[::ffff:169.254.169.254]/latest/"}}, link_local);
    refused_everywhere(db, *s, {{"url", "http://0xa9.0xfe.0xa9.0xfe/"}}, link_local);
    refused_everywhere(db, *s, {{"url", "http://[fe80::1]/"}}, "link-local address (fe80::/10)");
    refused_everywhere(db, *s, {{"url", "http://[fd00:ec2::254]/"}}, "cloud metadata address");
    refused_everywhere(db, *s, {{"url", "http://100.100.100.200/"}}, "cloud metadata address");
    // 0.0.0.0 and :: reach this machine's own services on Linux.
    auto port = std::to_string(loopback.port());
    refused_everywhere(db, *s, {{"url", "http://0.0.0.0:" + port + "/"}}, "unspecified address");
    refused_everywhere(db, *s, {{"url", "http://[::]:" + port + "/"}}, "unspecified address");
    CHECK(loopback.connections() == 0);

    // The defaults still allow loopback receivers (calling internal services is normal).
    auto fine = submit(*s, "webhook", {{"url", loopback.url("/fine")}});
    CHECK(wait_for(*s, fine, "done")["attempts"] == 1);
}

TEST_CASE("webhook SSRF: WEBHOOK_DENY_PRIVATE refuses a name resolving to loopback unconnected") {
    FakeHttpServer loopback(ok);
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_DENY_PRIVATE", "true"}});
    auto port = std::to_string(loopback.port());
    // A name passes submission; the address libcurl resolved it to is what is refused.
    auto id = submit(*s, "webhook", {{"url", "http://localhost:" + port + "/x"}});
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "is a loopback address"));
    CHECK(contains(last_error(job), "WEBHOOK_DENY_PRIVATE=true"));

    refused_everywhere(db, *s, {{"url", "http://127.0.0.1:" + port + "/"}}, "loopback address");
    refused_everywhere(db, *s, {{"url", "http://[::ffff:127.0.0.1]:" + port + "/"}},
                       "loopback address");
    refused_everywhere(db, *s, {{"url", "http://10.1.2.3/"}}, "RFC 1918");
    refused_everywhere(db, *s, {{"url", "http://100.64.0.1/"}}, "CGNAT");
    refused_everywhere(db, *s, {{"url", "http://[fd12::1]/"}}, "unique local address");
    CHECK(loopback.connections() == 0);
}

TEST_CASE("webhook SSRF: an explicit CIDR entry lets one private range through") {
    FakeHttpServer loopback(ok);
    TestDatabase db;
    auto s = start_service(
        db, {{"WEBHOOK_DENY_PRIVATE", "true"}, {"WEBHOOK_ALLOWED_HOSTS", "127.0.0.0/8, ::1"}});
    auto id = submit(*s, "webhook", {{"url", loopback.url("/internal")}});
    CHECK(wait_for(*s, id, "done")["attempts"] == 1);
    CHECK(loopback.request_count() == 1);
    // The list never opens the always-refused ranges.
    refused_everywhere(db, *s, {{"url", "http://169.254.169.254/"}}, "link-local address");
}

TEST_CASE("webhook SSRF: CIDR entries are checked on the resolved address") {
    FakeHttpServer loopback(ok);
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_ALLOWED_HOSTS", "10.0.0.0/8"}});
    auto url = "http://localhost:" + std::to_string(loopback.port()) + "/";
    auto id = submit(*s, "webhook", {{"url", url}});
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "is not in WEBHOOK_ALLOWED_HOSTS"));
    CHECK(loopback.connections() == 0);
}

TEST_CASE("webhook SSRF: an allowed host on a port not allowed fails without a connection") {
    FakeHttpServer allowed(ok);
    FakeHttpServer other(ok);
    TestDatabase db;
    auto s = start_service(
        db, {{"WEBHOOK_ALLOWED_HOSTS", "localhost:" + std::to_string(allowed.port())}});
    auto good = submit(*s, "webhook",
                       {{"url", "http://localhost:" + std::to_string(allowed.port()) + "/"}});
    CHECK(wait_for(*s, good, "done")["attempts"] == 1);
    auto bad = json{{"url", "http://localhost:" + std::to_string(other.port()) + "/"}};
    refused_everywhere(db, *s, bad, "is not in WEBHOOK_ALLOWED_HOSTS");
    CHECK(other.connections() == 0);
    CHECK(allowed.request_count() == 1);
}

TEST_CASE("webhook SSRF: a Host header in the payload is refused") {
    FakeHttpServer hook(ok);
    TestDatabase db;
    auto s = start_service(db);
    json payload = {{"url", hook.url("/")}, {"headers", {{"Host", "admin.internal"}}}};
    refused_everywhere(db, *s, payload, "headers[\"Host\"] is refused");
    payload["headers"] = {{"hOsT", "admin.internal"}};
    CHECK(contains(rejected(*s, "webhook", payload), "is refused"));
    CHECK(hook.connections() == 0);
}

TEST_CASE("webhook SSRF: a malformed WEBHOOK_ALLOWED_HOSTS stops start-up naming the entry") {
    TestDatabase db;
    for (std::string bad : {"10.0.0.0/33", "example.com:0", "[::1", "exa mple.com/8", "a:b:c"}) {
        INFO(bad);
        ServerProcess p(conveyor_binary(),
                        {{"DATABASE_URL", db.url()}, {"WEBHOOK_ALLOWED_HOSTS", bad}});
        CHECK(p.wait_exit() == 2);
        // The log is read by another thread: it may trail the exit a little.
        CHECK(
            wait_until([&] { return p.log_contains("configuration error: WEBHOOK_ALLOWED_HOSTS"); },
                       std::chrono::seconds(5)));
    }
}
