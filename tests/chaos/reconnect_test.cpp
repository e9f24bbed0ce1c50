// Issue 16 item 1: a connection that died is replaced under the request that found it dead, so
// that no request sees an error while the database is reachable; and a COMMIT whose outcome the
// service never heard is written again without a second row.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "support/database.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/jobs.hpp"
#include "support/metrics.hpp"
#include "support/server_process.hpp"

using namespace testsupport;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Every backend of the database but ours; returns how many were terminated.
long long terminate_backends(const TestDatabase& db) {
    return db.count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ok FROM "
                    "pg_stat_activity WHERE datname = current_database() AND pid <> "
                    "pg_backend_pid()) t WHERE ok");
}

double lost_connections(const ServerProcess& s) {
    return metric(scrape(s.base_url()), "conveyor_database_connections_lost_total").value_or(0);
}

// Sets a cluster-wide setting (ALTER SYSTEM, reloaded) for the life of the object.
class ClusterSetting {
  public:
    ClusterSetting(std::string name, const std::string& value) : name_(std::move(name)) {
        admin("ALTER SYSTEM SET " + name_ + " = '" + value + "'");
    }
    ~ClusterSetting() { reset(); }
    void reset() {
        if (!active_)
            return;
        active_ = false;
        try {
            admin("ALTER SYSTEM RESET " + name_);
        } catch (...) {
        }
    }

  private:
    static void admin(const std::string& sql) {
        pqxx::connection c(env_or_fail("CONVEYOR_TEST_PG_URL"));
        pqxx::nontransaction tx(c);
        tx.exec0(sql);
        tx.exec("SELECT pg_reload_conf()");
    }
    std::string name_;
    bool active_ = true;
};

} // namespace

TEST_CASE("reconnect: every backend terminated, then 200 submissions and reads without an error",
          "[chaos][reconnect]") {
    TestDatabase db;
    auto s = start_service(conveyor_binary(), db, {{"WORKER_CONCURRENCY", "4"}});
    auto first = submit(*s, {{"job_type", "noop"}});
    REQUIRE(http_get(s->base_url() + "/jobs/" + first).status == 200);
    REQUIRE(http_get(s->base_url() + "/jobs").status == 200);

    std::vector<std::string> ids;
    std::vector<std::string> errors;
    long long terminated = 0;
    for (int i = 0; i < 200; ++i) {
        // Every 50 requests, every connection dies again: the writer's, the readers', the
        // claimer's, the listener's.
        if (i % 50 == 0) {
            terminated += terminate_backends(db);
            std::this_thread::sleep_for(milliseconds(200)); // idle connections notice nothing
        }
        if (i % 2 == 0) {
            auto r = http_post_json(s->base_url() + "/jobs", json{{"job_type", "noop"}}.dump());
            if (r.status == 201)
                ids.push_back(r.json()["id"]);
            else
                errors.push_back("POST " + std::to_string(r.status) + " " + r.body);
        } else {
            auto one = http_get(s->base_url() + "/jobs/" + (ids.empty() ? first : ids.back()));
            auto list = http_get(s->base_url() + "/jobs?limit=5");
            if (one.status != 200)
                errors.push_back("GET one " + std::to_string(one.status) + " " + one.body);
            if (list.status != 200)
                errors.push_back("GET list " + std::to_string(list.status) + " " + list.body);
        }
    }
    INFO("errors: " << json(errors).dump() << "\nlog:\n" << log_tail(s->log()));
    CHECK(errors.empty());
    CHECK(terminated >= 4 * 4);
    REQUIRE(ids.size() == 100);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    CHECK(db.count("SELECT count(*) FROM jobs") == 101);
    // The claimer and the listener came back too: every job runs.
    CHECK(wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE status = 'done'") == 101; },
        seconds(20), milliseconds(50)));
    CHECK(http_get(s->base_url() + "/healthz").status == 200);
    double lost = lost_connections(*s);
    CHECK(lost >= 4);
    WARN("reconnect: " << terminated << " backends terminated in 4 rounds, 100 POSTs and 200 GETs, "
                       << errors.size() << " errors; conveyor_database_connections_lost_total "
                       << lost);
}

TEST_CASE("reconnect: a COMMIT cut off after it committed is answered 201 with one row",
          "[chaos][reconnect]") {
    TestDatabase db;
    auto s = start_service(conveyor_binary(), db);
    // Its result is written by the writer too: done before the standby goes missing.
    wait_for_status(*s, submit(*s, {{"job_type", "noop"}}), "done");
    // The writer commits with synchronous_commit = on: with a synchronous standby named that
    // never connects, its COMMIT is done locally and then waits. Terminating the backend in that
    // wait cuts the connection after the commit: the client can't know it happened.
    ClusterSetting standby("synchronous_standby_names", "conveyor_nobody");
    REQUIRE(wait_until(
        [&] {
            return db.text("SELECT setting FROM pg_settings WHERE name = "
                           "'synchronous_standby_names'") == "conveyor_nobody";
        },
        seconds(10)));
    auto answer = std::async(std::launch::async, [&] {
        return http("POST", s->base_url() + "/jobs",
                    json{{"job_type", "noop"}, {"run_at", "2099-01-01T00:00:00Z"}}.dump(),
                    {"Content-Type: application/json"}, 30000);
    });
    REQUIRE(wait_until(
        [&] {
            return db.count("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND application_name = 'conveyor:writer' AND "
                            "wait_event = 'SyncRep'") == 1;
        },
        seconds(10)));
    CHECK(db.count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ok FROM "
                   "pg_stat_activity WHERE datname = current_database() AND application_name = "
                   "'conveyor:writer') t WHERE ok") == 1);
    // The second try's own COMMIT must not wait for the missing standby.
    standby.reset();
    auto r = answer.get();
    INFO(r.status << " " << r.body << "\nlog:\n" << log_tail(s->log()));
    REQUIRE(r.status == 201);
    auto id = r.json()["id"].get<std::string>();
    CHECK(db.count("SELECT count(*) FROM jobs WHERE id = '" + id + "'") == 1);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE scheduled_at > now() + interval '1 year'") ==
          1);
    CHECK(s->log_contains("writing again on a new one"));
    CHECK(metric(scrape(s->base_url()), "conveyor_database_connections_lost_total",
                 {{"role", "writer"}})
              .value_or(0) >= 1);
}
