// Idempotency-Key (README "Idempotency keys", SPEC §9) on POST /jobs, POST /jobs/batch and the
// bulk actions, through a real process and its database.
#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <thread>

#include "support/api.hpp"

using namespace testsupport;

namespace {

HttpResponse keyed(const Api& api, const std::string& path, const json& body,
                   const std::string& key) {
    return http("POST", api.url(path), body.dump(),
                {"Content-Type: application/json", "Idempotency-Key: " + key}, 60000);
}

long count(const Api& api, const std::string& sql) {
    return api.db.exec(sql)[0][0].as<long>();
}

const json kLater = {{"job_type", "noop"}, {"run_at", "2099-01-01T00:00:00Z"}};

// The fingerprint the service computes for POST /jobs with `body` (src/http/fingerprint.cpp).
std::string fingerprint_sql(const std::string& body) {
    return "encode(sha256('POST'::bytea || '\\x00'::bytea || '/jobs'::bytea || '\\x00'::bytea || "
           "convert_to('" +
           body + "', 'UTF8')), 'hex')";
}

} // namespace

TEST_CASE("a request repeated with its Idempotency-Key runs once and gets the first answer") {
    Api api;
    auto first = keyed(api, "/jobs", kLater, "order-1");
    INFO(first.body);
    REQUIRE(first.status == 201);
    auto id = first.json()["id"].get<std::string>();
    CHECK(first.header("idempotent-replayed").empty());

    auto again = keyed(api, "/jobs", kLater, "order-1");
    CHECK(again.status == 201);
    CHECK(again.json()["id"] == id);
    CHECK(again.header("location") == "/jobs/" + id);
    CHECK(again.header("idempotent-replayed") == "true");
    // The structured-field form of the header is the same key.
    CHECK(keyed(api, "/jobs", kLater, "\"order-1\"").json()["id"] == id);

    // The repeat shows the job as it is now.
    REQUIRE(http("POST", api.url("/jobs/" + id + "/cancel"), "", {}).status == 200);
    again = keyed(api, "/jobs", kLater, "order-1");
    CHECK(again.status == 201);
    CHECK(again.json()["status"] == "cancelled");
    // Deleted since: the id, marked deleted.
    REQUIRE(http("DELETE", api.url("/jobs/" + id), "", {}).status == 204);
    again = keyed(api, "/jobs", kLater, "order-1");
    CHECK(again.status == 201);
    CHECK(again.json() == json{{"id", id}, {"deleted", true}});

    // Another body, or the same body on another route, under the same key: refused.
    check_error(keyed(api, "/jobs", {{"job_type", "noop"}}, "order-1"), 422,
                "idempotency_key_reused");
    check_error(keyed(api, "/jobs/batch", {{"jobs", {kLater}}}, "order-1"), 422,
                "idempotency_key_reused");
    CHECK(count(api, "SELECT count(*) FROM jobs") == 0);

    // Malformed keys: 400, nothing stored.
    for (const std::string& bad : {std::string("\"\""), std::string(256, 'k'),
                                   std::string("\"a\"b\""), std::string("caf\xc3\xa9")}) {
        INFO(bad);
        check_error(keyed(api, "/jobs", kLater, bad), 400, "invalid_idempotency_key");
    }
    CHECK(keyed(api, "/jobs", kLater, std::string(255, 'k')).status == 201);
    CHECK(count(api, "SELECT count(*) FROM jobs") == 1);
    CHECK(count(api, "SELECT count(*) FROM idempotency_keys") == 2);
}

TEST_CASE("20 concurrent repeats of one keyed submission make one job") {
    Api api;
    std::mutex m;
    std::vector<HttpResponse> answers;
    std::vector<std::thread> clients;
    for (int i = 0; i < 20; ++i)
        clients.emplace_back([&] {
            auto r = keyed(api, "/jobs", kLater, "burst");
            std::lock_guard<std::mutex> lock(m);
            answers.push_back(std::move(r));
        });
    for (auto& t : clients)
        t.join();
    std::set<std::string> ids;
    int created = 0;
    for (const auto& r : answers) {
        INFO(r.status << " " << r.body);
        if (r.status == 409) {
            check_error(r, 409, "idempotency_key_in_flight");
            CHECK(r.header("retry-after") == "1");
            continue;
        }
        REQUIRE(r.status == 201);
        ++created;
        ids.insert(r.json()["id"].get<std::string>());
    }
    CHECK(created >= 1);
    CHECK(ids.size() == 1);
    CHECK(count(api, "SELECT count(*) FROM jobs") == 1);
    // Once the first has answered, every repeat gets its answer.
    auto after = keyed(api, "/jobs", kLater, "burst");
    CHECK(after.status == 201);
    CHECK(ids.count(after.json()["id"].get<std::string>()) == 1);
}

TEST_CASE("keyed batches and bulk actions replay their first answer") {
    Api api;
    auto holder =
        submit(api.server,
               {{"job_type", "noop"}, {"run_at", "2099-01-01T00:00:00Z"}, {"unique_key", "u1"}});
    json batch = {
        {"jobs",
         {kLater,
          {{"job_type", "noop"}, {"run_at", "2099-01-01T00:00:00Z"}, {"unique_key", "u1"}}}}};
    auto first = keyed(api, "/jobs/batch", batch, "batch-1");
    INFO(first.body);
    REQUIRE(first.status == 201);
    auto again = keyed(api, "/jobs/batch", batch, "batch-1");
    CHECK(again.status == 201);
    CHECK(again.header("idempotent-replayed") == "true");
    REQUIRE(again.json().size() == 2);
    CHECK(again.json()[0]["id"] == first.json()[0]["id"]);
    CHECK(again.json()[1]["id"] == holder);
    CHECK(again.json()[1]["duplicate"] == true);
    CHECK_FALSE(again.json()[0].contains("duplicate"));
    CHECK(count(api, "SELECT count(*) FROM jobs") == 2);

    // A re-run would change nothing and say so; the repeat says what the first run did.
    json ids = {{"ids", {holder, first.json()[0]["id"]}}};
    auto cancel = keyed(api, "/jobs/cancel", ids, "cancel-1");
    REQUIRE(cancel.status == 200);
    CHECK(cancel.json() == json{{"matched", 2}, {"changed", 2}});
    auto repeat = keyed(api, "/jobs/cancel", ids, "cancel-1");
    CHECK(repeat.status == 200);
    CHECK(repeat.json() == json{{"matched", 2}, {"changed", 2}});
    CHECK(repeat.header("idempotent-replayed") == "true");
    CHECK(http_post_json(api.url("/jobs/cancel"), ids.dump()).json() ==
          json{{"matched", 2}, {"changed", 0}});
}

TEST_CASE("a key in flight answers 409, and a dead taker's key is taken over with its job ids") {
    Api api;
    const std::string body = kLater.dump();
    // Another process holds the key and is still working on the same request.
    api.db.exec("INSERT INTO idempotency_keys (key, fingerprint, token, expires_at, locked_until) "
                "VALUES ('held', " +
                fingerprint_sql(body) +
                ", gen_random_uuid(), now() + interval '1 hour', now() + interval '1 hour')");
    check_error(keyed(api, "/jobs", kLater, "held"), 409, "idempotency_key_in_flight");

    // It died before inserting: the repeat runs, with the ids the dead taker chose.
    const std::string chosen = "01a2348e-196a-7000-8cee-ff7530b861b7";
    api.db.exec("UPDATE idempotency_keys SET locked_until = now() - interval '1 second', "
                "job_ids = '{" +
                chosen + "}' WHERE key = 'held'");
    auto r = keyed(api, "/jobs", kLater, "held");
    INFO(r.body);
    CHECK(r.status == 201);
    CHECK(r.json()["id"] == chosen);
    CHECK(keyed(api, "/jobs", kLater, "held").json()["id"] == chosen);

    // It died after inserting: the repeat finds its job instead of inserting another.
    auto existing = submit(api.server, kLater);
    api.db.exec("INSERT INTO idempotency_keys (key, fingerprint, token, job_ids, expires_at, "
                "locked_until) VALUES ('died', " +
                fingerprint_sql(body) + ", gen_random_uuid(), '{" + existing +
                "}', now() + interval '1 hour', now() - interval '1 second')");
    r = keyed(api, "/jobs", kLater, "died");
    CHECK(r.status == 201);
    CHECK(r.json()["id"] == existing);
    CHECK(r.header("idempotent-replayed") == "true");
    CHECK(count(api, "SELECT count(*) FROM jobs") == 2);
    CHECK(count(api, "SELECT count(*) FROM idempotency_keys WHERE response IS NULL") == 0);
}

TEST_CASE("a keyed request that failed gives its key back, and keys expire and are pruned") {
    Api api(std::map<std::string, std::string>{{"IDEMPOTENCY_TTL_S", "2"}});
    api.db.exec("CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"
                "CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs FOR EACH ROW "
                "EXECUTE FUNCTION refuse_jobs()");
    check_error(keyed(api, "/jobs", kLater, "retry-me"), 500, "internal_error");
    CHECK(count(api, "SELECT count(*) FROM idempotency_keys") == 0);
    api.db.exec("DROP TRIGGER refuse_jobs ON jobs");
    auto first = keyed(api, "/jobs", kLater, "retry-me");
    REQUIRE(first.status == 201);
    CHECK(first.header("idempotent-replayed").empty());

    // Past IDEMPOTENCY_TTL_S the key is free again: the same request runs again.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto later = keyed(api, "/jobs", kLater, "retry-me");
    REQUIRE(later.status == 201);
    CHECK(later.json()["id"] != first.json()["id"]);
    CHECK(count(api, "SELECT count(*) FROM jobs") == 2);

    // The cleaner (the maintainer; every 10 s) deletes expired keys.
    CHECK(wait_until([&] { return count(api, "SELECT count(*) FROM idempotency_keys") == 0; },
                     std::chrono::seconds(30)));
}
