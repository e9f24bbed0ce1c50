#include "actors/reader.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "engine/leadership.hpp"
#include "log.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

struct reader_state {
    std::unique_ptr<store::Connection> conn;
    static inline const char* name = "reader";
};

using self_ptr = reader_actor::stateful_pointer<reader_state>;

// Runs a read (again on a new connection if its connection died), answering database failures
// as outcomes.
template <typename F> void guarded(self_ptr self, const ReplyTo& reply, F&& body) {
    try {
        reply(self->state.conn->run(store::Replay::always,
                                    [&](pqxx::connection& c, bool) { return body(c); }));
    } catch (const pqxx::broken_connection& e) {
        self->state.conn->reset();
        log::warn("reader", std::string("database not reachable: ") + e.what());
        reply(StoreUnavailable{});
    } catch (const std::exception& e) {
        self->state.conn->reset_if_broken();
        log::error("reader", std::string("query failed: ") + e.what());
        reply(StoreFailed{});
    }
}

reader_actor::behavior_type reader(self_ptr self, std::shared_ptr<const Config> cfg) {
    self->state.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::reader);
    return {
        [=](GetJob& m) {
            guarded(self, m.reply, [&](pqxx::connection& c) -> RequestOutcome {
                if (auto job = store::get_job_json(c, m.id))
                    return Found{std::move(*job)};
                return NotFound{"job", m.id};
            });
        },
        [=](ListJobs& m) {
            guarded(self, m.reply, [&](pqxx::connection& c) -> RequestOutcome {
                return store::list_jobs(c, m.query);
            });
        },
        [=](GetQueues& m) {
            guarded(self, m.reply, [&](pqxx::connection& c) -> RequestOutcome {
                pqxx::nontransaction tx(c);
                auto queues = store::list_queues(tx, m.name);
                if (!m.name)
                    return Listed{std::move(queues)};
                if (queues.empty())
                    return NotFound{"queue", *m.name};
                return Found{std::move(queues.front())};
            });
        },
        [=](CheckHealth& m) {
            try {
                self->state.conn->run(store::Replay::always,
                                      [](pqxx::connection& c, bool) { store::ping(c); });
                m.reply(Health{true, is_maintainer()});
            } catch (const std::exception& e) {
                self->state.conn->reset();
                log::warn("reader",
                          std::string("health check: database not reachable: ") + e.what());
                m.reply(Health{false});
            }
        },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

reader_actor spawn_reader(caf::actor_system& sys, std::shared_ptr<const Config> cfg) {
    return sys.spawn<caf::detached>(reader, std::move(cfg));
}

} // namespace conveyor
