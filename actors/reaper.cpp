#include "actors/reaper.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "engine/leadership.hpp"
#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

struct reaper_state {
    std::unique_ptr<store::Connection> conn;
    static inline const char* name = "reaper";
};

using self_ptr = reaper_actor::stateful_pointer<reaper_state>;

void reap(self_ptr self, const Config& cfg, const claimer_actor& claimer) {
    try {
        pqxx::work tx(self->state.conn->get());
        auto queues = store::reap_lost_jobs(tx, cfg);
        tx.commit();
        auto n = queues.size();
        for (const auto& q : queues)
            metrics::jobs_rescued(q, 1);
        if (n > 0) {
            log::warn("reaper", "returned " + std::to_string(n) +
                                    " lost jobs (their owners' leases expired)");
            self->send(claimer, wake_atom::value);
        }
    } catch (const std::exception& e) {
        self->state.conn->reset();
        log::warn("reaper", std::string("reap failed, will retry: ") + e.what());
    }
}

void prune(self_ptr self) {
    try {
        int n = store::prune_events(self->state.conn->get(), kEventsKept);
        if (n > 0)
            log::debug("reaper", "pruned " + std::to_string(n) + " old events");
    } catch (const std::exception& e) {
        self->state.conn->reset();
        log::warn("reaper", std::string("event pruning failed, will retry: ") + e.what());
    }
}

reaper_actor::behavior_type reaper(self_ptr self, std::shared_ptr<const Config> cfg,
                                   claimer_actor claimer) {
    self->state.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::reaper);
    self->send(self, reap_atom::value);
    self->delayed_send(self, std::chrono::seconds(10), prune_atom::value);
    return {
        // Only the maintainer works (actors/maintainer.hpp); two at once would still be correct
        // (SKIP LOCKED, an idempotent delete), only wasted work. Others look again each second,
        // so that a new maintainer reaps at once rather than a whole interval later.
        [=](reap_atom) {
            auto next = std::chrono::seconds(1);
            if (is_maintainer()) {
                reap(self, *cfg, claimer);
                next = std::chrono::seconds(cfg->reaper_interval_s);
            }
            self->delayed_send(self, next, reap_atom::value);
        },
        [=](prune_atom) {
            if (is_maintainer())
                prune(self);
            self->delayed_send(self, std::chrono::seconds(10), prune_atom::value);
        },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

reaper_actor spawn_reaper(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          claimer_actor claimer) {
    return sys.spawn<caf::detached>(reaper, std::move(cfg), claimer);
}

} // namespace conveyor
