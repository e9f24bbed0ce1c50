#include "actors/claimer.hpp"

#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/executor.hpp"
#include "log.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

struct running_job {
    std::string id;
    int attempt = 0;
    clock::time_point deadline;
    bool timed_out = false;
};

struct claimer_state {
    std::unique_ptr<store::Connection> conn;
    // Keyed by id and attempt: a timed-out attempt whose handler has not returned yet still holds
    // its slot, even if the job's next attempt is claimed here meanwhile.
    std::unordered_map<std::string, running_job> running;
    std::vector<AttemptResult> results; // finished attempts not yet passed to the dispatcher
    bool claim_scheduled = false;
    bool draining = false;
    bool db_down = false;
    caf::typed_response_promise<bool> drained;
    static inline const char* name = "claimer";
};

using self_ptr = claimer_actor::stateful_pointer<claimer_state>;

std::string attempt_key(const std::string& id, int attempt) {
    return id + "#" + std::to_string(attempt);
}

void schedule_claim(self_ptr self) {
    if (self->state.claim_scheduled || self->state.draining)
        return;
    self->state.claim_scheduled = true;
    self->send(self, claim_atom::value);
}

void forward_results(self_ptr self, const dispatcher_actor& dispatcher) {
    auto& st = self->state;
    if (st.results.empty())
        return;
    self->send(dispatcher, AttemptsFinished{std::move(st.results)});
    st.results.clear();
}

void finish_drain_if_idle(self_ptr self, const dispatcher_actor& dispatcher) {
    auto& st = self->state;
    if (!st.draining)
        return;
    // No claims run any more, so results go out as they come; they reach the dispatcher before
    // the drain is answered.
    forward_results(self, dispatcher);
    if (st.running.empty() && st.drained.pending())
        st.drained.deliver(true);
}

void claim(self_ptr self, const Config& cfg, const HandlerRegistry& registry,
           const std::string& worker, dispatcher_actor dispatcher) {
    auto& st = self->state;
    st.claim_scheduled = false;
    forward_results(self, dispatcher);
    if (st.draining)
        return;
    int free_slots = cfg.worker_concurrency - static_cast<int>(st.running.size());
    if (free_slots <= 0)
        return;
    std::vector<ClaimedJob> jobs;
    try {
        pqxx::nontransaction tx(st.conn->get());
        jobs = store::claim_jobs(tx, worker, free_slots);
        if (st.db_down)
            log::info("claimer", "database reachable again; claiming resumed");
        st.db_down = false;
    } catch (const std::exception& e) {
        st.conn->reset();
        if (!st.db_down)
            log::warn("claimer", std::string("claim failed, retrying every second: ") + e.what());
        st.db_down = true;
        self->delayed_send(self, std::chrono::seconds(1), wake_atom::value);
        return;
    }
    auto now = clock::now();
    for (auto& job : jobs) {
        auto deadline = now + std::chrono::seconds(cfg.job_timeout_s);
        st.running[attempt_key(job.id, job.attempt)] =
            running_job{job.id, job.attempt, deadline, false};
        const Handler* handler = registry.find(job.job_type);
        spawn_executor(self->system(), cfg, handler, std::move(job), deadline, self);
    }
    if (static_cast<int>(jobs.size()) < free_slots) {
        // Nothing more is due now: arm a timer for the earliest future job (a retry or a run_at).
        try {
            auto ms = store::ms_until_next_due(st.conn->get());
            if (ms && *ms < cfg.poll_interval_ms)
                self->delayed_send(self, std::chrono::milliseconds(std::max<long long>(*ms, 1)),
                                   wake_atom::value);
        } catch (const std::exception& e) {
            st.conn->reset();
            log::warn("claimer", std::string("next-due query failed: ") + e.what());
        }
    }
}

void refresh_heartbeats(self_ptr self, const std::string& worker) {
    auto& st = self->state;
    if (st.running.empty())
        return;
    std::vector<std::string> ids;
    for (const auto& [_, job] : st.running)
        ids.push_back(job.id);
    try {
        pqxx::work tx(st.conn->get());
        store::heartbeat(tx, worker, ids);
        tx.commit();
    } catch (const std::exception& e) {
        st.conn->reset();
        log::warn("claimer", std::string("heartbeat failed: ") + e.what());
    }
}

claimer_actor::behavior_type claimer(self_ptr self, Config cfg, const HandlerRegistry* registry,
                                     std::string worker, dispatcher_actor dispatcher) {
    self->state.conn = std::make_unique<store::Connection>(cfg.database_url, store::Role::claimer);
    self->send(self, poll_atom::value);
    self->delayed_send(self, std::chrono::seconds(cfg.heartbeat_interval_s), heartbeat_atom::value);
    self->delayed_send(self, std::chrono::seconds(1), timeout_atom::value);
    return {
        [=](wake_atom) { schedule_claim(self); },
        [=](claim_atom) { claim(self, cfg, *registry, worker, dispatcher); },
        [=](AttemptFinished& m) {
            self->state.running.erase(attempt_key(m.result.id, m.result.attempt));
            self->state.results.push_back(std::move(m.result));
            // The retry becomes due after the dispatcher has written it; a few ms of slack.
            if (m.retry_in && m.retry_in->count() < cfg.poll_interval_ms)
                self->delayed_send(self, *m.retry_in + std::chrono::milliseconds(5),
                                   wake_atom::value);
            finish_drain_if_idle(self, dispatcher);
            // The claim also forwards the buffered results, one message for all of them.
            schedule_claim(self);
        },
        [=](poll_atom) {
            schedule_claim(self);
            self->delayed_send(self, std::chrono::milliseconds(cfg.poll_interval_ms),
                               poll_atom::value);
        },
        [=](heartbeat_atom) {
            refresh_heartbeats(self, worker);
            self->delayed_send(self, std::chrono::seconds(cfg.heartbeat_interval_s),
                               heartbeat_atom::value);
        },
        [=](timeout_atom) {
            // A handler cannot be interrupted; at its deadline the attempt is recorded as failed
            // with `timeout`, and the slot stays taken until the handler returns.
            auto now = clock::now();
            for (auto& [_, job] : self->state.running) {
                const auto& id = job.id;
                if (job.timed_out || now < job.deadline)
                    continue;
                job.timed_out = true;
                log::warn("claimer",
                          "job " + id + " attempt " + std::to_string(job.attempt) +
                              " exceeded JOB_TIMEOUT_S=" + std::to_string(cfg.job_timeout_s));
                self->state.results.push_back(
                    AttemptResult{id, job.attempt,
                                  HandlerResult::retry("timeout: attempt ran longer than " +
                                                       std::to_string(cfg.job_timeout_s) + " s")});
            }
            forward_results(self, dispatcher);
            self->delayed_send(self, std::chrono::seconds(1), timeout_atom::value);
        },
        [=](drain_atom) -> caf::result<bool> {
            auto& st = self->state;
            st.draining = true;
            forward_results(self, dispatcher);
            if (st.running.empty())
                return true;
            log::info("claimer", "waiting up to " + std::to_string(cfg.shutdown_timeout_s) +
                                     " s for " + std::to_string(st.running.size()) +
                                     " running jobs");
            st.drained = self->make_response_promise<bool>();
            self->delayed_send(self, std::chrono::seconds(cfg.shutdown_timeout_s),
                               stop_atom::value);
            return st.drained;
        },
        [=](stop_atom) {
            // The grace period is over: whatever still runs goes back to pending, uncounted.
            auto& st = self->state;
            if (!st.drained.pending())
                return;
            forward_results(self, dispatcher);
            ReleaseJobs release;
            for (const auto& [_, job] : st.running)
                release.id_attempts.emplace_back(job.id, job.attempt);
            log::warn("claimer", "grace period over; returning " +
                                     std::to_string(release.id_attempts.size()) +
                                     " running jobs to pending");
            self->send(dispatcher, std::move(release));
            st.drained.deliver(true);
        },
    };
}

} // namespace

claimer_actor spawn_claimer(caf::actor_system& sys, const Config& cfg,
                            const HandlerRegistry& registry, const std::string& worker_id,
                            dispatcher_actor dispatcher) {
    return sys.spawn<caf::detached>(claimer, cfg, &registry, worker_id, dispatcher);
}

} // namespace conveyor
