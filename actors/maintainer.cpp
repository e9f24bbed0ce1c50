#include "actors/maintainer.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "engine/leadership.hpp"
#include "log.hpp"
#include "store/connection.hpp"
#include "store/lease.hpp"

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

struct maintainer_state {
    std::unique_ptr<store::Connection> conn;
    std::optional<std::int64_t> term; // set while this process holds the lease
    // Past this, the lease may have expired in the database: stop acting as the maintainer even
    // if the renewal's answer never came.
    clock::time_point valid_until{};
    bool db_failing = false;
    static inline const char* name = "maintainer";
};

using self_ptr = maintainer_actor::stateful_pointer<maintainer_state>;

void step_down(self_ptr self, const std::string& why) {
    auto& st = self->state;
    log::warn("maintainer",
              "no longer the maintainer (term " + std::to_string(*st.term) + "): " + why);
    st.term.reset();
    set_maintainer(false);
}

// One check: renew when holding the lease, take it when it is free or expired.
void check_lease(self_ptr self, const Config& cfg, const std::string& worker) {
    auto& st = self->state;
    // Measured before the statement: the database's expiry is at least this late.
    auto started = clock::now();
    try {
        auto& conn = st.conn->get();
        if (st.term) {
            if (store::renew_lease(conn, worker, *st.term, cfg.maintainer_lease_s))
                st.valid_until = started + std::chrono::seconds(cfg.maintainer_lease_s);
            else
                step_down(self, "another process took the lease");
        } else if (auto term = store::acquire_lease(conn, worker, cfg.maintainer_lease_s)) {
            st.term = term;
            st.valid_until = started + std::chrono::seconds(cfg.maintainer_lease_s);
            set_maintainer(true);
            log::info("maintainer", "this process is now the maintainer (term " +
                                        std::to_string(*term) +
                                        "): it runs the reaper, the cleaner and schedules");
        }
        if (st.db_failing)
            log::info("maintainer", "lease checks work again");
        st.db_failing = false;
    } catch (const std::exception& e) {
        st.conn->reset();
        if (!st.db_failing)
            log::warn("maintainer", std::string("lease check failed, will retry: ") + e.what());
        st.db_failing = true;
    }
    if (st.term && clock::now() >= st.valid_until)
        step_down(self, "the lease could not be renewed before it expired");
}

std::chrono::milliseconds next_check(const maintainer_state& st, const Config& cfg) {
    if (st.term)
        return std::chrono::milliseconds(std::max(500, cfg.maintainer_lease_s * 1000 / 3));
    return std::chrono::seconds(1);
}

maintainer_actor::behavior_type maintainer(self_ptr self, std::shared_ptr<const Config> cfg,
                                           std::string worker) {
    self->state.conn =
        std::make_unique<store::Connection>(cfg->database_url, store::Role::maintainer);
    self->send(self, lease_atom::value);
    return {
        [=](lease_atom) {
            check_lease(self, *cfg, worker);
            self->delayed_send(self, next_check(self->state, *cfg), lease_atom::value);
        },
        [=](stop_atom) {
            auto& st = self->state;
            if (st.term) {
                set_maintainer(false);
                try {
                    store::resign_lease(st.conn->get(), worker, *st.term);
                    log::info("maintainer", "resigned the maintainer lease (term " +
                                                std::to_string(*st.term) + ")");
                } catch (const std::exception& e) {
                    log::warn("maintainer", std::string("could not resign the lease; it expires "
                                                        "on its own: ") +
                                                e.what());
                }
                st.term.reset();
            }
            self->quit();
            return true;
        },
    };
}

} // namespace

maintainer_actor spawn_maintainer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                                  const std::string& worker_id) {
    return sys.spawn<caf::detached>(maintainer, std::move(cfg), worker_id);
}

} // namespace conveyor
