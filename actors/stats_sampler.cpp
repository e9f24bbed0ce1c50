#include "actors/stats_sampler.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

struct stats_sampler_state {
    std::unique_ptr<store::Connection> conn;
    clock::time_point next{}; // no sample before this
    bool failing = false;
    static inline const char* name = "stats_sampler";
};

using self_ptr = stats_sampler_actor::stateful_pointer<stats_sampler_state>;

void sample(self_ptr self) {
    auto& st = self->state;
    auto start = clock::now();
    if (!metrics::watched_within(kStatsWatched) || start < st.next)
        return;
    st.next = start + kStatsRefresh;
    try {
        metrics::set_job_counts(store::count_jobs(st.conn->get()));
        st.failing = false;
        // The count scans the table (about 0.3 s for a million rows here): keep it under 5% of
        // one database core however large the table grows.
        st.next = std::max(st.next, start + 20 * (clock::now() - start));
    } catch (const std::exception& e) {
        st.conn->reset();
        // Gauges keep their last values; one line per outage, not one per attempt.
        if (!st.failing)
            log::warn("stats", std::string("job counts for /metrics failed: ") + e.what());
        st.failing = true;
    }
}

stats_sampler_actor::behavior_type stats_sampler(self_ptr self, std::shared_ptr<const Config> cfg) {
    self->state.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::stats);
    self->send(self, sample_atom::value);
    return {
        [=](sample_atom) {
            sample(self);
            self->delayed_send(self, std::chrono::seconds(1), sample_atom::value);
        },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

stats_sampler_actor spawn_stats_sampler(caf::actor_system& sys, std::shared_ptr<const Config> cfg) {
    return sys.spawn<caf::detached>(stats_sampler, std::move(cfg));
}

} // namespace conveyor
