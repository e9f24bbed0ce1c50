#include "actors/claimer.hpp"

#include <algorithm>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/executor.hpp"
#include "engine/slot_book.hpp"
#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

struct claimer_state {
    std::unique_ptr<store::Connection> conn;
    std::unique_ptr<SlotBook> slots;
    std::vector<AttemptResult> results; // finished attempts not yet passed to the writer
    std::set<std::string> wake;         // queues to wake once they are written
    // Queues with a global limit that this process works, as the last claim saw them: claimed
    // from first, exactly (they are bounded, so they never starve the others).
    std::vector<std::string> limited;
    // The jobs of the latest claim that have not reported yet, and when that claim returned: the
    // next claim waits for them (see gather_then_claim).
    std::set<std::string> last_batch;
    clock::time_point last_claim_at{};
    bool gather_armed = false;
    bool claim_scheduled = false;
    bool draining = false;
    bool db_down = false;
    caf::typed_response_promise<bool> drained;
    static inline const char* name = "claimer";
};

using self_ptr = claimer_actor::stateful_pointer<claimer_state>;

struct Deps {
    std::shared_ptr<const Config> cfg;
    const HandlerRegistry* registry;
    std::string worker;
    writer_actor writer;
};

void schedule_claim(self_ptr self) {
    if (self->state.claim_scheduled || self->state.draining)
        return;
    self->state.claim_scheduled = true;
    self->send(self, claim_atom::value);
}

// How long a claim waits for the rest of the previous claim's jobs to finish before claiming the
// slots already free. Short jobs of one claim finish within microseconds of each other, but their
// reports arrive while the next claim is already in the database: claiming at the first report
// took ~6.5 jobs a claim at concurrency 10. Waiting for the batch claims all free slots at once
// (never more); a slot stays free at most this long, and only while jobs that started less than
// this long ago still run. An idle claimer (no running jobs) claims at once.
constexpr auto kGather = std::chrono::microseconds(1000);

void gather_then_claim(self_ptr self) {
    auto& st = self->state;
    auto since = clock::now() - st.last_claim_at;
    if (st.last_batch.empty() || since >= kGather) {
        schedule_claim(self);
        return;
    }
    if (st.gather_armed)
        return;
    st.gather_armed = true;
    self->delayed_send(self, std::chrono::duration_cast<std::chrono::microseconds>(kGather - since),
                       wake_atom::value);
}

void forward_results(self_ptr self, const Deps& d) {
    auto& st = self->state;
    if (st.results.empty())
        return;
    self->send(d.writer, WriteCommand{RecordResults{std::move(st.results), std::move(st.wake)}});
    st.results.clear();
    st.wake.clear();
}

void finish_drain_if_idle(self_ptr self, const Deps& d) {
    auto& st = self->state;
    if (!st.draining)
        return;
    // No claims run any more, so results go out as they come; they reach the writer before the
    // drain is answered.
    forward_results(self, d);
    if (st.slots->idle() && st.drained.pending())
        st.drained.deliver(true);
}

// The queues this process works (none: all) and how many more jobs each may start here: a capped
// queue its cap minus what it runs here, an uncapped one whatever slots are free.
store::ClaimScope claim_scope(const Config& cfg, const SlotBook& slots) {
    store::ClaimScope scope;
    if (cfg.queues.empty())
        return scope;
    scope.queues.emplace();
    for (const auto& q : cfg.queues) {
        scope.queues->push_back(q.name);
        scope.rooms.push_back(q.cap ? std::optional<int>(*q.cap - slots.running_in(q.name))
                                    : std::nullopt);
    }
    return scope;
}

// The scope of an exact claim from the limited queues `names`.
store::ClaimScope limited_scope(const Config& cfg, const SlotBook& slots,
                                const std::vector<std::string>& names) {
    store::ClaimScope scope;
    scope.queues = names;
    for (const auto& name : names) {
        std::optional<int> room;
        for (const auto& q : cfg.queues)
            if (q.name == name && q.cap)
                room = *q.cap - slots.running_in(name);
        scope.rooms.push_back(room);
    }
    return scope;
}

// Nothing more is due now: arm a timer for the earliest future job (a retry or a run_at) of this
// process's queues.
void wake_when_next_due(self_ptr self, const Config& cfg) {
    auto& st = self->state;
    try {
        auto ms = store::ms_until_next_due(st.conn->get(), claim_scope(cfg, *st.slots).queues);
        if (ms && *ms < cfg.poll_interval_ms)
            self->delayed_send(self, std::chrono::milliseconds(std::max<long long>(*ms, 1)),
                               wake_atom::value);
    } catch (const std::exception& e) {
        st.conn->reset();
        log::warn("claimer", std::string("next-due query failed: ") + e.what());
    }
}

// Takes a slot for each claimed job and starts its executor.
void start(self_ptr self, const Deps& d, std::vector<ClaimedJob> jobs) {
    auto deadline = clock::now() + std::chrono::seconds(d.cfg->job_timeout_s);
    for (auto& job : jobs) {
        self->state.last_batch.insert(job.id);
        auto cancel = self->state.slots->take(AttemptRef{job.id, job.attempt}, job.queue, deadline);
        metrics::job_claimed(job.queue, job.wait_s);
        const Handler* handler = d.registry->find(job.job_type);
        spawn_executor(self->system(), d.cfg, handler, std::move(job), deadline, std::move(cancel),
                       self);
    }
    metrics::set_worker_running_jobs(self->state.slots->running());
}

// One claim cycle: the limited queues first (when the last cycle saw some), then the others in
// one statement, which also tells whether limited queues exist; one round trip when none do.
void claim(self_ptr self, const Deps& d) {
    auto& st = self->state;
    st.claim_scheduled = false;
    forward_results(self, d);
    const int free_slots = st.slots->free();
    if (st.draining || free_slots <= 0)
        return;
    const auto& cfg = *d.cfg;
    st.last_batch.clear();
    st.gather_armed = false;
    try {
        // Claimed again on a new connection when the last one died: usually it died idle and
        // nothing was claimed; if a claim did commit unseen, its jobs come back when their lease
        // runs out, as a dead process's would.
        st.conn->run(store::Replay::always, [&](pqxx::connection& c, bool) {
            pqxx::nontransaction tx(c);
            bool limited_claimed = false;
            if (!st.limited.empty()) {
                start(self, d,
                      store::claim_limited(tx, d.worker, st.slots->free(), cfg.stale_after_s,
                                           limited_scope(cfg, *st.slots, st.limited)));
                limited_claimed = true;
            }
            if (st.slots->free() > 0) {
                auto claimed = store::claim_jobs(tx, d.worker, st.slots->free(), cfg.stale_after_s,
                                                 claim_scope(cfg, *st.slots));
                st.limited = std::move(claimed.limited_queues);
                start(self, d, std::move(claimed.jobs));
            }
            if (!limited_claimed && !st.limited.empty() && st.slots->free() > 0)
                start(self, d,
                      store::claim_limited(tx, d.worker, st.slots->free(), cfg.stale_after_s,
                                           limited_scope(cfg, *st.slots, st.limited)));
        });
        st.last_claim_at = clock::now();
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
    if (st.slots->free() > 0)
        wake_when_next_due(self, cfg);
}

// A cancel was requested somewhere: tell the handlers of our running jobs it concerns.
void check_cancels(self_ptr self, const std::string& worker) {
    auto& st = self->state;
    if (st.slots->idle())
        return;
    try {
        pqxx::nontransaction tx(st.conn->get());
        for (const auto& id : store::cancel_requested(tx, worker, st.slots->job_ids()))
            if (st.slots->cancel(id))
                log::info("claimer", "job " + id + ": cancel requested, telling its handler");
    } catch (const std::exception& e) {
        st.conn->reset();
        log::warn("claimer",
                  std::string("cancel check failed (the next heartbeat retries): ") + e.what());
    }
}

void refresh_heartbeats(self_ptr self, const std::string& worker, int lease_s) {
    auto& st = self->state;
    if (st.slots->idle())
        return;
    try {
        // A heartbeat only moves the lease forward: safe to write twice.
        auto cancelled = st.conn->run(store::Replay::always, [&](pqxx::connection& c, bool) {
            pqxx::work tx(c);
            // The answer also names the jobs whose cancel we may have missed (a lost NOTIFY).
            auto ids = store::heartbeat(tx, worker, st.slots->job_ids(), lease_s);
            tx.commit();
            return ids;
        });
        for (const auto& id : cancelled)
            st.slots->cancel(id);
    } catch (const std::exception& e) {
        st.conn->reset();
        log::warn("claimer", std::string("heartbeat failed: ") + e.what());
    }
}

// A handler cannot be interrupted; at its deadline the attempt is recorded as failed with
// `timeout`, and the slot stays taken until the handler returns.
void fail_overdue(self_ptr self, const Deps& d) {
    const int limit = d.cfg->job_timeout_s;
    for (auto& attempt : self->state.slots->overdue(clock::now())) {
        log::warn("claimer", "job " + attempt.id + " attempt " + std::to_string(attempt.attempt) +
                                 " exceeded JOB_TIMEOUT_S=" + std::to_string(limit));
        if (auto queue = self->state.slots->queue_of(attempt))
            self->state.wake.insert(*queue); // a retry, pending once written
        self->state.results.push_back(AttemptResult{
            std::move(attempt), HandlerResult::retry("timeout: attempt ran longer than " +
                                                     std::to_string(limit) + " s")});
    }
    forward_results(self, d);
}

caf::result<bool> drain(self_ptr self, const Deps& d) {
    auto& st = self->state;
    st.draining = true;
    forward_results(self, d);
    if (st.slots->idle())
        return true;
    log::info("claimer", "waiting up to " + std::to_string(d.cfg->shutdown_timeout_s) + " s for " +
                             std::to_string(st.slots->running()) + " running jobs");
    st.drained = self->make_response_promise<bool>();
    self->delayed_send(self, std::chrono::seconds(d.cfg->shutdown_timeout_s), grace_atom::value);
    return st.drained;
}

// The grace period is over: whatever still runs goes back to pending, uncounted.
void release_running(self_ptr self, const Deps& d) {
    auto& st = self->state;
    if (!st.drained.pending())
        return;
    forward_results(self, d);
    auto attempts = st.slots->attempts();
    log::warn("claimer", "grace period over; returning " + std::to_string(attempts.size()) +
                             " running jobs to pending");
    self->send(d.writer, WriteCommand{ReleaseAttempts{std::move(attempts)}});
    st.drained.deliver(true);
}

claimer_actor::behavior_type claimer(self_ptr self, Deps d) {
    const auto& cfg = *d.cfg;
    self->state.conn = std::make_unique<store::Connection>(cfg.database_url, store::Role::claimer);
    self->state.slots = std::make_unique<SlotBook>(cfg.worker_concurrency);
    metrics::set_worker_slots(cfg.worker_concurrency);
    self->send(self, poll_atom::value);
    self->delayed_send(self, std::chrono::seconds(cfg.heartbeat_interval_s), heartbeat_atom::value);
    self->delayed_send(self, std::chrono::seconds(1), timeout_atom::value);
    return {
        [=](wake_atom) { schedule_claim(self); },
        [=](claim_atom) { claim(self, d); },
        [=](cancel_atom) { check_cancels(self, d.worker); },
        [=](AttemptFinished& m) {
            auto& st = self->state;
            auto queue = st.slots->release(m.result.attempt);
            st.last_batch.erase(m.result.attempt.id);
            metrics::set_worker_running_jobs(st.slots->running());
            // A claimer (here or elsewhere) may look for the retry before it is written, and a
            // finished job of a limited queue frees a unit: wake those queues once written.
            if (queue && (m.retry_in || std::find(st.limited.begin(), st.limited.end(), *queue) !=
                                            st.limited.end()))
                st.wake.insert(*queue);
            st.results.push_back(std::move(m.result));
            // The retry becomes due after the writer has written it; a few ms of slack.
            if (m.retry_in && m.retry_in->count() < d.cfg->poll_interval_ms)
                self->delayed_send(self, *m.retry_in + std::chrono::milliseconds(5),
                                   wake_atom::value);
            finish_drain_if_idle(self, d);
            // The claim also forwards the buffered results, one message for all of them.
            gather_then_claim(self);
        },
        [=](poll_atom) {
            schedule_claim(self);
            self->delayed_send(self, std::chrono::milliseconds(d.cfg->poll_interval_ms),
                               poll_atom::value);
        },
        [=](heartbeat_atom) {
            refresh_heartbeats(self, d.worker, d.cfg->stale_after_s);
            self->delayed_send(self, std::chrono::seconds(d.cfg->heartbeat_interval_s),
                               heartbeat_atom::value);
        },
        [=](timeout_atom) {
            fail_overdue(self, d);
            self->delayed_send(self, std::chrono::seconds(1), timeout_atom::value);
        },
        [=](drain_atom) { return drain(self, d); },
        [=](grace_atom) { release_running(self, d); },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

claimer_actor spawn_claimer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                            const HandlerRegistry& registry, const std::string& worker_id,
                            writer_actor writer) {
    return sys.spawn<caf::detached>(claimer, Deps{std::move(cfg), &registry, worker_id, writer});
}

} // namespace conveyor
