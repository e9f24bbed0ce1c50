#include "actors/scheduler.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "engine/leadership.hpp"
#include "engine/schedule_ticks.hpp"
#include "log.hpp"
#include "metrics/metrics.hpp"
#include "model/cron_schedule.hpp"
#include "store/connection.hpp"
#include "store/queries.hpp"
#include "store/schedules.hpp"

namespace conveyor {

namespace {

struct scheduler_state {
    std::unique_ptr<store::Connection> conn;
    bool tick_failing = false;
    static inline const char* name = "scheduler";
};

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

RequestOutcome put(pqxx::connection& c, const ScheduleSpec& spec) {
    pqxx::work tx(c);
    std::optional<std::int64_t> next;
    if (spec.enabled)
        next = next_slot(std::get<CronExpr>(parse_cron(spec.cron)), find_time_zone(spec.timezone),
                         store::db_now(tx));
    auto stored = store::upsert_schedule(tx, spec, next);
    tx.commit();
    return ScheduleStored{std::move(stored.json), stored.created};
}

RequestOutcome get(pqxx::connection& c, const std::optional<std::string>& name) {
    pqxx::nontransaction tx(c);
    auto found = store::list_schedules(tx, name);
    if (!name)
        return Listed{std::move(found)};
    if (found.empty())
        return NotFound{"schedule", *name};
    return Found{std::move(found.front())};
}

RequestOutcome remove(pqxx::connection& c, const std::string& name) {
    pqxx::work tx(c);
    bool gone = store::delete_schedule(tx, name);
    tx.commit();
    if (!gone)
        return NotFound{"schedule", name};
    return Deleted{};
}

RequestOutcome trigger(pqxx::connection& c, const std::string& name,
                       const HandlerRegistry& registry) {
    pqxx::work tx(c);
    auto job_json = store::schedule_job(tx, name);
    if (!job_json)
        return NotFound{"schedule", name};
    auto made = job_from_schedule(*job_json, std::nullopt, registry);
    if (auto* why = std::get_if<std::string>(&made)) {
        log::error("scheduler", "schedule '" + name +
                                    "' cannot be triggered: its job is no "
                                    "longer valid (" +
                                    *why + ")");
        return StoreFailed{};
    }
    auto job = std::get<NewJob>(std::move(made));
    auto rendered = store::insert_jobs(tx, {job});
    store::notify_wake(tx, {job.queue});
    tx.commit();
    // A held unique_key answers 200 with the holder, as POST /jobs does.
    if (rendered.front().duplicate)
        metrics::job_deduplicated(job.queue);
    else
        metrics::job_enqueued(job.queue, job.job_type);
    return Inserted{std::move(rendered), false};
}

// Answers the request with what `body` returns, or with the database failure.
template <typename F> void answer(self_ptr self, const ReplyTo& reply, F&& body) {
    try {
        reply(body(self->state.conn->get()));
    } catch (const pqxx::broken_connection& e) {
        self->state.conn->reset();
        log::warn("scheduler", std::string("database not reachable: ") + e.what());
        reply(StoreUnavailable{});
    } catch (const std::exception& e) {
        self->state.conn->reset_if_broken();
        log::error("scheduler", std::string("schedule request failed: ") + e.what());
        reply(StoreFailed{});
    }
}

void tick(self_ptr self, const HandlerRegistry& registry) {
    auto& st = self->state;
    try {
        for (const auto& f : fire_due_schedules(st.conn->get(), registry)) {
            if (f.duplicate) {
                metrics::job_deduplicated(f.queue);
                log::info("scheduler", "schedule '" + f.schedule + "': its slot at " +
                                           utc_text(f.slot) + " enqueued nothing, unfinished job " +
                                           f.job_id + " holds its unique_key");
                continue;
            }
            metrics::job_enqueued(f.queue, f.job_type);
            log::info("scheduler", "schedule '" + f.schedule + "' enqueued job " + f.job_id +
                                       " for its slot at " + utc_text(f.slot));
        }
        st.tick_failing = false;
    } catch (const std::exception& e) {
        st.conn->reset();
        if (!st.tick_failing)
            log::warn("scheduler", std::string("schedule tick failed, will retry: ") + e.what());
        st.tick_failing = true;
    }
}

scheduler_actor::behavior_type scheduler(self_ptr self, std::shared_ptr<const Config> cfg,
                                         const HandlerRegistry* registry) {
    self->state.conn =
        std::make_unique<store::Connection>(cfg->database_url, store::Role::maintainer);
    self->send(self, tick_atom::value);
    return {
        [=](ScheduleCommand& c) {
            std::visit(
                [&](auto& m) {
                    using T = std::decay_t<decltype(m)>;
                    answer(self, m.reply, [&](pqxx::connection& conn) -> RequestOutcome {
                        if constexpr (std::is_same_v<T, PutSchedule>)
                            return put(conn, m.spec);
                        else if constexpr (std::is_same_v<T, GetSchedules>)
                            return get(conn, m.name);
                        else if constexpr (std::is_same_v<T, DeleteSchedule>)
                            return remove(conn, m.name);
                        else
                            return trigger(conn, m.name, *registry);
                    });
                },
                c);
        },
        [=](tick_atom) {
            if (is_maintainer())
                tick(self, *registry);
            self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
        },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                                const HandlerRegistry& registry) {
    return sys.spawn<caf::detached>(scheduler, std::move(cfg), &registry);
}

} // namespace conveyor
