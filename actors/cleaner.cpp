#include "actors/cleaner.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "engine/leadership.hpp"
#include "log.hpp"
#include "store/connection.hpp"
#include "store/idempotency.hpp"
#include "store/retention.hpp"

namespace conveyor {

namespace {

struct cleaner_state {
    std::unique_ptr<store::Connection> conn;
    int batch = kCleanBatch; // smaller after a timeout, back up after kGrowAfter full batches
    int full_batches_since_shrink = 0;
    static inline const char* name = "cleaner";
};

constexpr int kGrowAfter = 10;

using self_ptr = cleaner_actor::stateful_pointer<cleaner_state>;

struct Retention {
    const char* status;
    long age_s;
};

// SQLSTATE of a statement cancelled by statement_timeout.
const std::string kQueryCanceled = "57014";

bool failed(self_ptr self, const std::exception& e) {
    self->state.conn->reset();
    log::warn("cleaner", std::string("deleting expired jobs failed, will retry: ") + e.what());
    return false;
}

// One run: batches of each status until one comes back short or its budget is spent.
// Returns true when work is left (the budget ran out, or a batch timed out).
bool clean(self_ptr self, const Config& cfg) {
    auto& st = self->state;
    const Retention all[] = {{"done", cfg.retention_done_s},
                             {"failed", cfg.retention_failed_s},
                             {"cancelled", cfg.retention_cancelled_s}};
    std::string report;
    bool more = false;
    for (const auto& r : all) {
        if (r.age_s == 0)
            continue; // kept forever
        long deleted = 0;
        int budget = kCleanBatchesPerRun; // per status, so that none starves the others
        // A resigning maintainer (shutdown) stops between batches.
        for (bool full = true; full && budget > 0 && is_maintainer(); --budget) {
            try {
                int n = store::delete_expired_jobs(st.conn->get(), r.status, r.age_s, st.batch,
                                                   kCleanTimeoutMs);
                deleted += n;
                full = n == st.batch;
                if (full && st.batch < kCleanBatch && ++st.full_batches_since_shrink >= kGrowAfter)
                    st.batch = std::min(kCleanBatch, st.batch * 2);
            } catch (const pqxx::sql_error& e) {
                if (e.sqlstate() != kQueryCanceled)
                    return failed(self, e);
                int was = st.batch;
                st.batch = std::max(kCleanMinBatch, st.batch / 2);
                st.full_batches_since_shrink = 0;
                log::warn("cleaner", "deleting " + std::to_string(was) + " " + r.status +
                                         " jobs took over " + std::to_string(kCleanTimeoutMs) +
                                         " ms; batches of " + std::to_string(st.batch) + " now");
                more = true;
                break;
            } catch (const std::exception& e) {
                return failed(self, e);
            }
        }
        if (budget == 0)
            more = true;
        if (deleted > 0)
            report += (report.empty() ? "" : ", ") + std::to_string(deleted) + " " + r.status;
    }
    if (!report.empty())
        log::info("cleaner", "deleted " + report + " jobs past their retention");
    // Idempotency keys past IDEMPOTENCY_TTL_S: small rows, deleted the same way.
    try {
        int budget = kCleanBatchesPerRun;
        for (bool full = true; full && budget > 0 && is_maintainer(); --budget)
            full = store::prune_idempotency_keys(st.conn->get(), kCleanBatch) == kCleanBatch;
        more = more || budget == 0;
    } catch (const std::exception& e) {
        return failed(self, e);
    }
    return more;
}

cleaner_actor::behavior_type cleaner(self_ptr self, std::shared_ptr<const Config> cfg) {
    self->state.conn =
        std::make_unique<store::Connection>(cfg->database_url, store::Role::maintainer);
    self->send(self, clean_atom::value);
    return {
        [=](clean_atom) {
            // Not the maintainer: look again in a second, so a new maintainer cleans at once.
            std::chrono::milliseconds next = std::chrono::seconds(1);
            if (is_maintainer())
                next = clean(self, *cfg) ? std::chrono::milliseconds(0) : kCleanEvery;
            if (next.count() == 0)
                self->send(self, clean_atom::value);
            else
                self->delayed_send(self, next, clean_atom::value);
        },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

cleaner_actor spawn_cleaner(caf::actor_system& sys, std::shared_ptr<const Config> cfg) {
    return sys.spawn<caf::detached>(cleaner, std::move(cfg));
}

} // namespace conveyor
