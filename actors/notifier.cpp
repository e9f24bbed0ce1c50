#include "actors/notifier.hpp"

#include <poll.h>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/after.hpp>
#include <caf/send.hpp>
#include <pqxx/pqxx>

#include "log.hpp"
#include "store/connection.hpp"

namespace conveyor {

namespace {

class WakeReceiver final : public pqxx::notification_receiver {
public:
    WakeReceiver(pqxx::connection_base& c, claimer_actor claimer)
        : pqxx::notification_receiver(c, "conveyor_wake"), claimer_(std::move(claimer)) {}
    void operator()(const std::string&, int) override { caf::anon_send(claimer_, wake_atom::value); }

private:
    claimer_actor claimer_;
};

void notifier(caf::blocking_actor* self, Config cfg, claimer_actor claimer) {
    bool running = true;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<WakeReceiver> receiver;
    int failures = 0;
    auto check_mailbox = [&](std::chrono::milliseconds wait) {
        self->receive([&](stop_atom) { running = false; }, caf::after(wait) >> [] {});
    };
    while (running) {
        try {
            if (!conn) {
                conn = store::connect(cfg.database_url, store::Role::listener);
                receiver = std::make_unique<WakeReceiver>(*conn, claimer);
                if (failures > 0) log::info("notifier", "LISTEN connection re-established");
                failures = 0;
                // Anything inserted while we were deaf is found by this claim.
                caf::anon_send(claimer, wake_atom::value);
            }
            pollfd pfd{conn->sock(), POLLIN, 0};
            ::poll(&pfd, 1, 100);
            conn->get_notifs();
            if (!conn->is_open()) throw pqxx::broken_connection("LISTEN connection closed");
        } catch (const std::exception& e) {
            receiver.reset();
            conn.reset();
            ++failures;
            if (failures == 1 || failures % 30 == 0)
                log::warn("notifier", std::string("LISTEN connection lost, reconnecting (polling covers the gap): ") +
                                          e.what());
            check_mailbox(std::chrono::milliseconds(std::min(1000, 100 * failures)));
            continue;
        }
        check_mailbox(std::chrono::milliseconds(0));
    }
}

}  // namespace

caf::actor spawn_notifier(caf::actor_system& sys, const Config& cfg, claimer_actor claimer) {
    return sys.spawn<caf::detached>(notifier, cfg, claimer);
}

}  // namespace conveyor
