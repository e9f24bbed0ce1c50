#include "engine/schedule_ticks.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "log.hpp"
#include "model/cron.hpp"
#include "model/cron_schedule.hpp"
#include "store/queries.hpp"
#include "store/schedules.hpp"
#include "uuid.hpp"

namespace conveyor {

using nlohmann::json;

NewJob job_from_schedule(const std::string& job_json, std::optional<std::int64_t> slot) {
    auto j = json::parse(job_json);
    NewJob job;
    job.id = new_uuid_v7();
    job.job_type = j.at("job_type").get<std::string>();
    job.queue = j.value("queue", "default");
    job.priority = j.value("priority", 0);
    job.payload =
        j.value("payload", json::object()).dump(-1, ' ', false, json::error_handler_t::replace);
    job.max_attempts = j.value("max_attempts", 3);
    if (slot)
        job.run_at = utc_text(*slot);
    return job;
}

std::vector<FiredSlot> fire_due_schedules(pqxx::connection& conn, int limit) {
    pqxx::work tx(conn);
    std::vector<NewJob> jobs;
    std::vector<FiredSlot> fired;
    std::set<std::string> queues;
    for (const auto& due : store::lock_due_schedules(tx, limit)) {
        auto cron = parse_cron(due.cron);
        const auto* zone = find_time_zone(due.timezone);
        if (!std::holds_alternative<CronExpr>(cron) || !zone) {
            // Stored by a version that accepted it; this one cannot compute its slots.
            log::error("scheduler", "schedule '" + due.name +
                                        "' has a cron or time zone this "
                                        "version cannot read; it is paused");
            store::advance_schedule(tx, due.name, std::nullopt, std::nullopt);
            continue;
        }
        const auto& expr = std::get<CronExpr>(cron);
        // After downtime every slot since next_run_at is due: only the latest one runs.
        auto slot = latest_slot(expr, zone, due.next_run, due.now).value_or(due.next_run);
        jobs.push_back(job_from_schedule(due.job, slot));
        queues.insert(jobs.back().queue);
        fired.push_back({due.name, jobs.back().id, slot});
        store::advance_schedule(tx, due.name, next_slot(expr, zone, due.now), slot);
    }
    if (!jobs.empty()) {
        store::insert_jobs(tx, jobs);
        store::notify_wake(tx, queues);
    }
    tx.commit();
    return fired;
}

} // namespace conveyor
