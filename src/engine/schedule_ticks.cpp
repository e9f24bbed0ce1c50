#include "engine/schedule_ticks.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "http/request_parsing.hpp"
#include "log.hpp"
#include "model/cron.hpp"
#include "model/cron_schedule.hpp"
#include "store/queries.hpp"
#include "store/schedules.hpp"

namespace conveyor {

using nlohmann::json;

std::variant<NewJob, std::string> job_from_schedule(const std::string& job_json,
                                                    std::optional<std::int64_t> slot,
                                                    const HandlerRegistry& registry) {
    auto j = json::parse(job_json, nullptr, false);
    auto parsed = parse_job_object(j, registry, "");
    if (auto* e = std::get_if<ApiError>(&parsed))
        return e->message;
    auto job = std::get<NewJob>(std::move(parsed));
    if (slot)
        job.run_at = utc_text(*slot);
    return job;
}

std::vector<FiredSlot> fire_due_schedules(pqxx::connection& conn, const HandlerRegistry& registry,
                                          int limit) {
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
        auto next = next_slot(expr, zone, due.now);
        auto job = job_from_schedule(due.job, slot, registry);
        if (auto* why = std::get_if<std::string>(&job)) {
            log::error("scheduler", "schedule '" + due.name + "': its job is no longer valid (" +
                                        *why + "); the slot at " + utc_text(slot) + " is skipped");
            store::advance_schedule(tx, due.name, next, std::nullopt);
            continue;
        }
        jobs.push_back(std::get<NewJob>(std::move(job)));
        queues.insert(jobs.back().queue);
        fired.push_back({due.name, jobs.back().id, slot, jobs.back().queue, jobs.back().job_type});
        store::advance_schedule(tx, due.name, next, slot);
    }
    if (!jobs.empty()) {
        auto inserted = store::insert_jobs(tx, jobs);
        for (std::size_t i = 0; i < fired.size(); ++i)
            if (inserted[i].duplicate) {
                fired[i].duplicate = true;
                fired[i].job_id = inserted[i].id;
            }
        store::notify_wake(tx, queues);
    }
    tx.commit();
    return fired;
}

} // namespace conveyor
