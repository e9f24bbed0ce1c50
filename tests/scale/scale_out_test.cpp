// Issue 16 item 4: many processes on one database behave as one service. Four processes drain a
// backlog together: every job runs exactly once, each process stays within WORKER_CONCURRENCY
// and a queue's global concurrency_limit holds across all of them.
#include <catch2/catch.hpp>

#include "scale/scale_support.hpp"
#include "support/api.hpp"

using namespace testsupport;

TEST_CASE("four processes on one database run every job exactly once within every cap", "[scale]") {
    TestDatabase db;
    create_executions_table(db);
    Procs procs;
    for (int i = 0; i < 4; ++i)
        procs.push_back(start_testd(db, {{"WORKER_CONCURRENCY", "4"}}));
    auto f = drain_recorded(procs, db, 800);
    check_exactly_once(f, procs.size(), 4);
    CHECK(db.count("SELECT count(*) FROM jobs WHERE attempts <> 1") == 0);
    for (auto& p : procs)
        CHECK(error_lines(p->log()).empty());
    auto figures = to_json(f);
    // What each process holds open once it has written, claimed, read and maintained.
    figures["connections_by_role"] = nlohmann::json::parse(
        db.text("SELECT json_object_agg(application_name, n) FROM (SELECT application_name, "
                "count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND "
                "application_name LIKE 'conveyor:%' GROUP BY 1) x"));
    WARN("4 processes: " << figures.dump());
    scale_report("scale_out_4_processes", figures);
}
