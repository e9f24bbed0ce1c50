// SPEC §4 over real HTTP against a real server process and a fresh database per test.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "store/migrations.hpp"
#include "support/api.hpp"
#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

using namespace testsupport;
using nlohmann::json;

namespace {

bool is_rfc3339_ms(const json& v) {
    if (!v.is_string())
        return false;
    auto s = v.get<std::string>();
    return s.size() == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z';
}

} // namespace

TEST_CASE("POST /jobs stores a job and answers 201 with Location") {
    Api api;
    auto r = http_post_json(
        api.url("/jobs"), R"({"job_type":"noop","payload":{"to":"x","n":[1,2]},"max_attempts":7})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto j = r.json();
    CHECK(j["job_type"] == "noop");
    CHECK(j["payload"] == json{{"to", "x"}, {"n", {1, 2}}});
    CHECK(j["max_attempts"] == 7);
    CHECK(j["attempts"].is_number_integer());
    CHECK(j["last_error"].is_null());
    CHECK(is_rfc3339_ms(j["scheduled_at"]));
    CHECK(is_rfc3339_ms(j["created_at"]));
    CHECK(is_rfc3339_ms(j["updated_at"]));
    for (auto key :
         {"id", "job_type", "payload", "status", "attempts", "max_attempts", "last_error",
          "scheduled_at", "processing_started_at", "created_at", "updated_at"})
        CHECK(j.contains(key));
    CHECK(r.header("location") == "/jobs/" + j["id"].get<std::string>());
    // Durable when answered: the row is there.
    CHECK(api.db.count("SELECT count(*) FROM jobs WHERE id = '" + j["id"].get<std::string>() +
                       "'") == 1);

    auto got = http_get(api.url(r.header("location")));
    REQUIRE(got.status == 200);
    CHECK(got.json()["id"] == j["id"]);
    CHECK(got.json()["payload"] == j["payload"]);
}

TEST_CASE("run_at in the future is stored as scheduled_at") {
    Api api;
    auto r = http_post_json(api.url("/jobs"),
                            R"({"job_type":"noop","run_at":"2099-01-02T03:04:05.678Z"})");
    REQUIRE(r.status == 201);
    CHECK(r.json()["scheduled_at"] == "2099-01-02T03:04:05.678Z");
    CHECK(r.json()["status"] == "pending");
}

TEST_CASE("POST /jobs rejects bad input with the right code and a JSON error") {
    Api api;
    check_error(http_post_json(api.url("/jobs"), "{not json"), 400, "malformed_json");
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"nope","payload":{}})"), 422,
                "unknown_job_type");
    auto unknown = http_post_json(api.url("/jobs"), R"({"job_type":"nope","payload":{}})");
    CHECK(unknown.json()["error"]["message"].get<std::string>().find("noop") != std::string::npos);
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"noop","payload":[]})"), 422,
                "invalid_payload");
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"noop","max_attempts":0})"), 422,
                "invalid_max_attempts");
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"noop","max_attempts":101})"), 422,
                "invalid_max_attempts");
    check_error(http_post_json(api.url("/jobs"), R"({"job_type":"noop","run_at":"soon"})"), 422,
                "invalid_run_at");
    check_error(
        http("POST", api.url("/jobs"), R"({"job_type":"noop"})", {"Content-Type: text/plain"}), 415,
        "unsupported_media_type");
    check_error(http("POST", api.url("/jobs"), R"({"job_type":"noop"})", {}), 415,
                "unsupported_media_type");
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 0);
}

TEST_CASE("bodies over MAX_BODY_BYTES get 413") {
    Api api(std::map<std::string, std::string>{{"MAX_BODY_BYTES", "1000"}});
    std::string big = R"({"job_type":"noop","payload":{"x":")" + std::string(2000, 'a') + "\"}}";
    check_error(http_post_json(api.url("/jobs"), big), 413, "body_too_large");
    CHECK(http_post_json(api.url("/jobs"), R"({"job_type":"noop"})").status == 201);
}

TEST_CASE("unknown routes are 404, wrong methods 405 with Allow") {
    Api api;
    check_error(http_get(api.url("/nope")), 404, "not_found");
    auto r = http("DELETE", api.url("/jobs"));
    check_error(r, 405, "method_not_allowed");
    CHECK(r.header("allow") == "GET, POST");
    auto b = http_get(api.url("/jobs/batch"));
    check_error(b, 405, "method_not_allowed");
    CHECK(b.header("allow") == "POST");
    auto h = http("POST", api.url("/healthz"), "{}");
    check_error(h, 405, "method_not_allowed");
    CHECK(h.header("allow") == "GET");
    auto one = http("PUT", api.url("/jobs/01a21663-bcf9-7563-b322-1fbe79dbc39a"), "{}");
    check_error(one, 405, "method_not_allowed");
    CHECK(one.header("allow") == "DELETE, GET");
}

TEST_CASE("GET /jobs/<id>: 404 for an unknown id, 400 for a malformed one") {
    Api api;
    check_error(http_get(api.url("/jobs/01a21663-bcf9-7563-b322-1fbe79dbc39a")), 404, "not_found");
    check_error(http_get(api.url("/jobs/not-a-uuid")), 400, "invalid_id");
    check_error(http_get(api.url("/jobs/'%3B%20DROP%20TABLE%20jobs")), 400, "invalid_id");
}

TEST_CASE("POST /jobs/batch inserts all in order, or nothing") {
    Api api;
    json batch = {{"jobs", json::array()}};
    for (int i = 0; i < 1000; ++i)
        batch["jobs"].push_back({{"job_type", "noop"}, {"payload", {{"i", i}}}});
    auto r = http_post_json(api.url("/jobs/batch"), batch.dump());
    REQUIRE(r.status == 201);
    auto arr = r.json();
    REQUIRE(arr.size() == 1000);
    for (int i = 0; i < 1000; ++i)
        CHECK(arr[i]["payload"]["i"] == i);
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 1000);

    json bad = {{"jobs",
                 {{{"job_type", "noop"}},
                  {{"job_type", "noop"}},
                  {{"job_type", "noop"}, {"max_attempts", 0}}}}};
    auto e = http_post_json(api.url("/jobs/batch"), bad.dump());
    check_error(e, 422, "invalid_max_attempts");
    CHECK(e.json()["error"]["message"].get<std::string>().find("jobs[2]") != std::string::npos);
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 1000);

    check_error(http_post_json(api.url("/jobs/batch"), R"({"jobs":[]})"), 422, "invalid_batch");
    json too_many = {{"jobs", json::array()}};
    for (int i = 0; i < 1001; ++i)
        too_many["jobs"].push_back({{"job_type", "noop"}});
    check_error(http_post_json(api.url("/jobs/batch"), too_many.dump()), 422, "invalid_batch");
    check_error(http_post_json(api.url("/jobs/batch"), "[1,2"), 400, "malformed_json");
}

TEST_CASE("GET /jobs filters and validates its query") {
    Api api;
    REQUIRE(http_post_json(api.url("/jobs"), R"({"job_type":"noop","payload":{"k":1}})").status ==
            201);
    REQUIRE(
        http_post_json(api.url("/jobs"), R"({"job_type":"noop","run_at":"2099-01-01T00:00:00Z"})")
            .status == 201);
    api.db.exec("UPDATE jobs SET status = 'failed' WHERE payload ? 'k'");
    auto all = http_get(api.url("/jobs"));
    REQUIRE(all.status == 200);
    CHECK(all.json().size() == 2);
    CHECK(all.header("link").empty());
    auto failed = http_get(api.url("/jobs?status=failed"));
    REQUIRE(failed.json().size() == 1);
    CHECK(failed.json()[0]["payload"]["k"] == 1);
    CHECK(http_get(api.url("/jobs?status=failed,pending")).json().size() == 2);
    CHECK(http_get(api.url("/jobs?job_type=other")).json().size() == 0);
    check_error(http_get(api.url("/jobs?status=bogus")), 400, "invalid_query");
    check_error(http_get(api.url("/jobs?limit=0")), 400, "invalid_query");
    check_error(http_get(api.url("/jobs?limit=1001")), 400, "invalid_query");
    check_error(http_get(api.url("/jobs?limit=ten")), 400, "invalid_query");
    check_error(http_get(api.url("/jobs?cursor=xyz")), 400, "invalid_query");
    // SQL metacharacters are data, never SQL.
    CHECK(http_get(api.url("/jobs?job_type=%27%3B%20DROP%20TABLE%20jobs%3B--")).status == 200);
    CHECK(api.db.count("SELECT count(*) FROM jobs") == 2);
}

TEST_CASE("keyset pagination visits 250 jobs exactly once while inserts continue") {
    Api api;
    json batch = {{"jobs", json::array()}};
    for (int i = 0; i < 250; ++i)
        batch["jobs"].push_back({{"job_type", "noop"}, {"payload", {{"i", i}}}});
    // Five inserts of 50 so that created_at differs between groups and ties exist within each.
    for (int g = 0; g < 5; ++g) {
        json part = {{"jobs", json::array()}};
        for (int i = 0; i < 50; ++i)
            part["jobs"].push_back(batch["jobs"][g * 50 + i]);
        REQUIRE(http_post_json(api.url("/jobs/batch"), part.dump()).status == 201);
    }
    std::set<std::string> original;
    for (const auto& row : api.db.exec("SELECT id::text FROM jobs"))
        original.insert(row[0].c_str());
    REQUIRE(original.size() == 250);

    // Inserts run while the pages are read: the first page waits for the first insert, and the
    // inserts are counted at the first and the last page.
    std::atomic<bool> stop{false};
    std::atomic<int> inserted{0};
    std::thread inserter([&] {
        for (int i = 0; i < 200 && !stop; ++i)
            if (http_post_json(api.url("/jobs"), R"({"job_type":"noop","payload":{"late":true}})")
                    .status == 201)
                ++inserted;
    });
    REQUIRE(wait_until([&] { return inserted > 0; }, std::chrono::seconds(10)));
    int inserted_at_first_page = -1, inserted_at_last_page = -1;
    std::vector<std::string> seen;
    std::string next = "/jobs?limit=17";
    int pages = 0;
    while (!next.empty() && pages < 100) {
        if (pages == 0)
            inserted_at_first_page = inserted;
        inserted_at_last_page = inserted;
        auto r = http_get(api.url(next));
        REQUIRE(r.status == 200);
        for (auto& j : r.json())
            seen.push_back(j["id"]);
        next.clear();
        auto link = r.header("link");
        if (!link.empty()) {
            REQUIRE(link.find("rel=\"next\"") != std::string::npos);
            next = link.substr(link.find('<') + 1, link.find('>') - link.find('<') - 1);
        }
        ++pages;
    }
    stop = true;
    inserter.join();
    INFO(inserted_at_first_page << " inserted at the first page, " << inserted_at_last_page
                                << " at the last, of " << pages << " pages");
    CHECK(inserted_at_last_page > inserted_at_first_page); // the paging met new rows
    CHECK(inserted_at_first_page < 200);
    std::set<std::string> unique(seen.begin(), seen.end());
    CHECK(unique.size() == seen.size()); // nothing repeated
    for (const auto& id : original)
        CHECK(unique.count(id) == 1); // nothing missed
}

TEST_CASE("healthz reports the database and, once the lone process took the lease, leadership") {
    Api api;
    auto r = http_get(api.url("/healthz"));
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "ok");
    CHECK(r.json()["database"] == "ok");
    CHECK(r.json()["leader"].is_boolean());
    CHECK(wait_until([&] { return http_get(api.url("/healthz")).json()["leader"] == true; },
                     std::chrono::seconds(10)));
}

TEST_CASE("API_TOKEN protects every route but /healthz") {
    Api api(std::map<std::string, std::string>{{"API_TOKEN", "s3cret"}});
    auto r = http_post_json(api.url("/jobs"), R"({"job_type":"noop"})");
    check_error(r, 401, "unauthorized");
    CHECK(r.header("www-authenticate").find("Bearer") == 0);
    check_error(http_get(api.url("/jobs")), 401, "unauthorized");
    check_error(http_get(api.url("/jobs"), {"Authorization: Bearer wrong"}), 401, "unauthorized");
    CHECK(http_get(api.url("/jobs"), {"Authorization: Bearer s3cret"}).status == 200);
    CHECK(http("POST", api.url("/jobs"), R"({"job_type":"noop"})",
               {"Content-Type: application/json", "Authorization: Bearer s3cret"})
              .status == 201);
    CHECK(http_get(api.url("/healthz")).status == 200);
    CHECK_FALSE(api.server.log_contains("s3cret"));
}

TEST_CASE("a bad configuration value stops start-up with one line naming it") {
    TestDatabase db;
    ServerProcess bad(conveyor_binary(),
                      {{"DATABASE_URL", db.url()}, {"WORKER_CONCURRENCY", "many"}});
    CHECK(bad.wait_exit() == 2);
    CHECK(bad.log().find("WORKER_CONCURRENCY") != std::string::npos);
}

TEST_CASE("conveyor migrate only migrates") {
    TestDatabase db;
    const auto migrations = static_cast<long long>(conveyor::store::embedded_migrations().size());
    ServerProcess m(conveyor_binary(), {{"DATABASE_URL", db.url()}}, {"migrate"});
    REQUIRE(m.wait_exit() == 0);
    INFO(m.log());
    CHECK(db.count("SELECT count(*) FROM schema_migrations") == migrations);
    CHECK(m.log_contains("applied " + std::to_string(migrations) + " migrations"));
    CHECK_FALSE(m.log_contains("listening on"));
}
