// `webhook` against a real HTTP server on loopback and the real service.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "config.hpp"
#include "handlers/webhook_signature.hpp"
#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"

using namespace handlertest;
using namespace testsupport;

TEST_CASE("webhook: POSTs the payload minus routing fields as JSON by default") {
    FakeHttpServer hook([](const Request&, int) { return Response{200, "thanks"}; });
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook",
                     {{"url", hook.url("/hooks/signup?source=conveyor")},
                      {"timeout_ms", 5000},
                      {"event", "signup"},
                      {"user", {{"id", 7}, {"name", "Zoë"}}}});
    auto job = wait_for(*s, id, "done");
    CHECK(job["attempts"] == 1);
    CHECK(job["last_error"].is_null());

    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[0].target == "/hooks/signup?source=conveyor");
    CHECK(reqs[0].header("content-type") == "application/json");
    CHECK(json::parse(reqs[0].body) ==
          json{{"event", "signup"}, {"user", {{"id", 7}, {"name", "Zoë"}}}});
}

TEST_CASE("webhook: custom method, headers and body arrive intact") {
    FakeHttpServer hook([](const Request&, int) { return Response{204, ""}; });
    TestDatabase db;
    auto s = start_service(db);

    auto put =
        submit(*s, "webhook",
               {{"url", hook.url("/put")},
                {"method", "PUT"},
                {"headers",
                 {{"X-Signature", "sha256=abc"}, {"Content-Type", "text/plain; charset=utf-8"}}},
                {"body", "raw text, not JSON"}});
    wait_for(*s, put, "done");
    auto patch = submit(
        *s, "webhook",
        {{"url", hook.url("/patch")}, {"method", "PATCH"}, {"body", {{"a", {1, 2, nullptr}}}}});
    wait_for(*s, patch, "done");
    auto get = submit(*s, "webhook",
                      {{"url", hook.url("/get?q=1")},
                       {"method", "GET"},
                       {"headers", {{"Authorization", "Bearer t"}}}});
    wait_for(*s, get, "done");
    auto del = submit(*s, "webhook", {{"url", hook.url("/items/9")}, {"method", "DELETE"}});
    wait_for(*s, del, "done");

    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 4);
    CHECK(reqs[0].method == "PUT");
    CHECK(reqs[0].target == "/put");
    CHECK(reqs[0].header("x-signature") == "sha256=abc");
    CHECK(reqs[0].header("content-type") == "text/plain; charset=utf-8");
    CHECK(reqs[0].body == "raw text, not JSON");

    CHECK(reqs[1].method == "PATCH");
    CHECK(reqs[1].header("content-type") == "application/json");
    CHECK(json::parse(reqs[1].body) == json{{"a", {1, 2, nullptr}}});

    CHECK(reqs[2].method == "GET");
    CHECK(reqs[2].target == "/get?q=1");
    CHECK(reqs[2].header("authorization") == "Bearer t");
    CHECK(reqs[2].body.empty());

    CHECK(reqs[3].method == "DELETE");
    CHECK(reqs[3].target == "/items/9");
    CHECK(reqs[3].body.empty());

    // Sequential jobs on short-lived executor threads still share connections.
    CHECK(hook.connections() < 4);
}

TEST_CASE("webhook: 500 and 429 are retried, then success ends done") {
    FakeHttpServer hook([](const Request&, int index) {
        if (index == 0)
            return Response{500, "database on fire"};
        if (index == 1)
            return Response{429, "slow down"};
        return Response{200, "ok"};
    });
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", hook.url("/flaky")}}, 5);
    auto job = wait_for(*s, id, "done");
    CHECK(job["attempts"] == 3);
    CHECK(last_error(job) == "HTTP 429: slow down");
    CHECK(hook.request_count() == 3);
}

TEST_CASE("webhook: 404 fails permanently with an excerpt of the response body") {
    std::string body = "no such hook: " + std::string(2000, 'z');
    FakeHttpServer hook([&](const Request&, int) { return Response{404, body}; });
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", hook.url("/missing")}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    auto error = last_error(job);
    CHECK(error.rfind("HTTP 404: no such hook: zzz", 0) == 0);
    CHECK(error.size() <= 600); // 512 bytes of body plus the prefix
    CHECK(hook.request_count() == 1);
}

TEST_CASE("webhook: a redirect is not followed and fails permanently naming the Location") {
    FakeHttpServer other([](const Request&, int) { return Response{200, ""}; });
    FakeHttpServer hook([&](const Request&, int) {
        return Response{302, "", {{"Location", other.url("/elsewhere")}}};
    });
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", hook.url("/moved")}}, 5);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(contains(last_error(job), "HTTP 302"));
    CHECK(contains(last_error(job), other.url("/elsewhere")));
    CHECK(other.request_count() == 0);
}

namespace {
Response never_in_time(const Request&, int) {
    Response r{200, "too late"};
    r.delay_ms = 30000;
    return r;
}
} // namespace

TEST_CASE("webhook: a server slower than timeout_ms times out, which is transient") {
    FakeHttpServer hook(never_in_time);
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", hook.url("/slow")}, {"timeout_ms", 300}}, 2);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 2);
    CHECK(last_error(job).rfind("timeout", 0) == 0);
    CHECK(hook.request_count() == 2);
}

TEST_CASE("webhook: the attempt deadline (JOB_TIMEOUT_S) caps a larger timeout_ms") {
    FakeHttpServer hook(never_in_time);
    TestDatabase db;
    auto s = start_service(db, {{"JOB_TIMEOUT_S", "1"}});
    auto id = submit(*s, "webhook", {{"url", hook.url("/slow")}, {"timeout_ms", 60000}}, 1);
    // Without the cap the attempt would last 60 s. The handler itself must stop at the deadline:
    // its curl error, not the claimer's message for an attempt that ran over.
    auto job = wait_for(*s, id, "failed", 20);
    INFO(last_error(job));
    CHECK(last_error(job).rfind("timeout: ", 0) == 0);
    CHECK(last_error(job).find("timed out") != std::string::npos);
    CHECK(last_error(job).find("attempt ran longer than") == std::string::npos);
}

TEST_CASE("webhook: a refused connection is transient") {
    int port;
    {
        FakeHttpServer gone([](const Request&, int) { return Response{}; });
        port = gone.port();
    }
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}}, 2);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 2);
    CHECK_FALSE(last_error(job).empty());
}

TEST_CASE("webhook: invalid payloads name the field, at submit and when stored directly") {
    TestDatabase db;
    auto s = start_service(db);
    CHECK(contains(rejected(*s, "webhook", json::object()), "url"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "ftp://example.com/x"}}), "url"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "not a url"}}), "url"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "http://example.com"}, {"method", "FETCH"}}),
                   "method"));
    CHECK(contains(
        rejected(*s, "webhook", {{"url", "http://example.com"}, {"headers", {{"X-A", 1}}}}),
        "headers[\"X-A\"]"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "http://example.com"}, {"headers", {"X-A"}}}),
                   "headers"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "http://example.com"}, {"timeout_ms", "fast"}}),
                   "timeout_ms"));
    CHECK(contains(rejected(*s, "webhook", {{"url", "http://example.com"}, {"timeout_ms", 0}}),
                   "timeout_ms"));

    json injected = {{"url", "http://example.com"}, {"headers", {{"X-A", "1\r\nX-Injected: yes"}}}};
    auto message = rejected(*s, "webhook", injected);
    CHECK(message == "headers[\"X-A\"] must not contain CR or LF");
    CHECK(contains(
        rejected(*s, "webhook", {{"url", "http://example.com"}, {"headers", {{"X-A\nB", "v"}}}}),
        "must not contain CR or LF"));

    auto id = insert_directly(db, "webhook", injected);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) == message);
}

TEST_CASE("webhook: WEBHOOK_ALLOWED_HOSTS refuses other hosts at submit and before running") {
    FakeHttpServer hook([](const Request&, int) { return Response{200, "ok"}; });
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_ALLOWED_HOSTS", "127.0.0.1, hooks.example.com"}});
    auto id = submit(*s, "webhook", {{"url", hook.url("/allowed")}});
    CHECK(wait_for(*s, id, "done")["attempts"] == 1);
    auto message = rejected(*s, "webhook", {{"url", "http://169.254.169.254/latest/meta-data"}});
    CHECK(contains(message, "169.254.169.254 is a link-local address"));
    auto stored = insert_directly(db, "webhook", {{"url", "http://localhost:1/x"}});
    auto job = wait_for(*s, stored, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job).find("localhost:1 (") != std::string::npos);
    CHECK(last_error(job).find("is not in WEBHOOK_ALLOWED_HOSTS") != std::string::npos);
    CHECK(hook.requests().size() == 1);
}

// ---- Standard Webhooks (standardwebhooks.com) ----

namespace {

// 24 random bytes, base64: the Standard Webhooks spec's own example secret.
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// What a receiver computes, done by Python's hmac module, independently of the C++ code:
// v1,base64(HMAC-SHA256(base64decode(secret minus "whsec_"), "{id}.{timestamp}.{body}")).
std::string python_signature(const std::string& secret, const std::string& id,
                             const std::string& timestamp, const std::string& body) {
    char path[] = "/tmp/conveyor-webhook-body.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    close(fd);
    // Arguments are base64, a UUID, digits and a mkstemp path: nothing the shell interprets.
    std::string cmd = "/usr/bin/python3 -c 'import sys, hmac, hashlib, base64\n"
                      "secret, msg_id, ts, path = sys.argv[1:5]\n"
                      "assert secret.startswith(\"whsec_\")\n"
                      "key = base64.b64decode(secret[len(\"whsec_\"):], validate=True)\n"
                      "body = open(path, \"rb\").read()\n"
                      "content = msg_id.encode() + b\".\" + ts.encode() + b\".\" + body\n"
                      "mac = hmac.new(key, content, hashlib.sha256).digest()\n"
                      "print(\"v1,\" + base64.b64encode(mac).decode())' " +
                      secret + " " + id + " " + timestamp + " " + path;
    FILE* f = popen(cmd.c_str(), "r");
    REQUIRE(f);
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, f))
        out += buf;
    int rc = pclose(f);
    std::remove(path);
    REQUIRE(rc == 0);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    return out;
}

long long unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The request carries the Standard Webhooks headers of attempt `attempt` of job `id`, and its
// signature is the one Python computes for its own id, timestamp and body.
void check_signed(const Request& r, const std::string& id, int attempt) {
    INFO(r.method << " " << r.target);
    CHECK(r.header("webhook-id") == id);
    CHECK(r.header("conveyor-attempt") == std::to_string(attempt));
    auto ts = r.header("webhook-timestamp");
    REQUIRE_FALSE(ts.empty());
    CHECK(ts.find_first_not_of("0123456789") == std::string::npos);
    CHECK(std::llabs(std::atoll(ts.c_str()) - unix_now()) < 300);
    auto signature = r.header("webhook-signature");
    CHECK(signature.rfind("v1,", 0) == 0);
    CHECK(signature == python_signature(kSecret, r.header("webhook-id"), ts, r.body));
}

} // namespace

TEST_CASE("webhook signature: matches the Standard Webhooks specification's example") {
    auto key = conveyor::base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    REQUIRE(key);
    CHECK(conveyor::standard_webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                               R"({"test": 2432232314})") ==
          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK(conveyor::standard_webhook_signature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                               "") ==
          python_signature(kSecret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", ""));
}

TEST_CASE("webhook: with WEBHOOK_SIGNING_SECRET every request is signed (checked by Python)") {
    FakeHttpServer hook([](const Request&, int) { return Response{200, "ok"}; });
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_SIGNING_SECRET", kSecret}});
    auto post =
        submit(*s, "webhook", {{"url", hook.url("/signed")}, {"event", "signup"}, {"name", "Zoë"}});
    wait_for(*s, post, "done");
    auto raw = submit(*s, "webhook",
                      {{"url", hook.url("/raw")},
                       {"method", "PUT"},
                       {"headers", {{"Content-Type", "text/plain"}}},
                       {"body", "a=1&b=\"two\"\n\ttabs and ünïcode"}});
    wait_for(*s, raw, "done");
    auto get = submit(*s, "webhook", {{"url", hook.url("/nobody")}, {"method", "GET"}});
    wait_for(*s, get, "done");

    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 3);
    CHECK(json::parse(reqs[0].body) == json{{"event", "signup"}, {"name", "Zoë"}});
    check_signed(reqs[0], post, 1);
    CHECK(reqs[1].body == "a=1&b=\"two\"\n\ttabs and ünïcode");
    check_signed(reqs[1], raw, 1);
    CHECK(reqs[2].body.empty());
    check_signed(reqs[2], get, 1);
    // A signature over another body or id does not verify.
    CHECK(reqs[0].header("webhook-signature") !=
          python_signature(kSecret, post, reqs[0].header("webhook-timestamp"), reqs[0].body + " "));
    CHECK_FALSE(s->log_contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

TEST_CASE("webhook: webhook-id is the job id on every attempt, Conveyor-Attempt counts them") {
    FakeHttpServer hook([](const Request&, int index) {
        return index < 2 ? Response{503, "busy"} : Response{200, "ok"};
    });
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_SIGNING_SECRET", kSecret}});
    auto id = submit(*s, "webhook", {{"url", hook.url("/retried")}, {"n", 1}}, 5);
    CHECK(wait_for(*s, id, "done")["attempts"] == 3);
    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 3);
    for (int i = 0; i < 3; ++i)
        check_signed(reqs[static_cast<size_t>(i)], id, i + 1);
}

TEST_CASE("webhook: without WEBHOOK_SIGNING_SECRET requests carry ids but no signature") {
    FakeHttpServer hook([](const Request&, int index) {
        return index == 0 ? Response{500, "again"} : Response{200, "ok"};
    });
    TestDatabase db;
    auto s = start_service(db);
    auto id = submit(*s, "webhook", {{"url", hook.url("/unsigned")}}, 3);
    CHECK(wait_for(*s, id, "done")["attempts"] == 2);
    auto reqs = hook.requests();
    REQUIRE(reqs.size() == 2);
    for (size_t i = 0; i < reqs.size(); ++i) {
        CHECK(reqs[i].header("webhook-id") == id);
        CHECK(std::llabs(std::atoll(reqs[i].header("webhook-timestamp").c_str()) - unix_now()) <
              300);
        CHECK(reqs[i].header("conveyor-attempt") == std::to_string(i + 1));
        CHECK(reqs[i].headers.count("webhook-signature") == 0);
    }
}

TEST_CASE("webhook: a payload cannot set the Standard Webhooks or Conveyor-Attempt headers") {
    FakeHttpServer hook([](const Request&, int) { return Response{200, "ok"}; });
    TestDatabase db;
    auto s = start_service(db, {{"WEBHOOK_SIGNING_SECRET", kSecret}});
    for (std::string name :
         {"webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "Conveyor-Attempt"}) {
        auto message =
            rejected(*s, "webhook", {{"url", hook.url("/x")}, {"headers", {{name, "forged"}}}});
        CHECK(message == "headers[\"" + name + "\"] is set by Conveyor and cannot be given");
    }
    // Stored behind the API's back, it fails before any request is made.
    json forged = {{"url", hook.url("/x")}, {"headers", {{"Webhook-Signature", "v1,forged"}}}};
    auto id = insert_directly(db, "webhook", forged);
    auto job = wait_for(*s, id, "failed");
    CHECK(job["attempts"] == 1);
    CHECK(last_error(job) ==
          "headers[\"Webhook-Signature\"] is set by Conveyor and cannot be given");
    CHECK(hook.request_count() == 0);
}

TEST_CASE("webhook: a malformed WEBHOOK_SIGNING_SECRET stops start-up naming it, not quoting it") {
    TestDatabase db;
    for (std::string bad : {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not*base64!", "whsec_"}) {
        INFO(bad);
        ServerProcess p(conveyor_binary(),
                        {{"DATABASE_URL", db.url()}, {"WEBHOOK_SIGNING_SECRET", bad}});
        CHECK(p.wait_exit() == 2);
        CHECK(p.log_contains("configuration error: WEBHOOK_SIGNING_SECRET"));
        if (bad != "whsec_")
            CHECK_FALSE(p.log_contains(bad));
    }
}
