#include "actors/reader.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "log.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

struct reader_state {
    std::unique_ptr<store::Connection> conn;
    static inline const char* name = "reader";
};

using self_ptr = reader_actor::stateful_pointer<reader_state>;

// Runs a read, turning database failures into 503/500 answers.
template <typename F> void guarded(self_ptr self, const Responder& reply, F&& body) {
    try {
        body(self->state.conn->get());
    } catch (const pqxx::broken_connection& e) {
        self->state.conn->reset();
        log::warn("reader", std::string("database not reachable: ") + e.what());
        reply(
            error_reply(503, "database_unavailable", "the database is not reachable; retry later"));
    } catch (const std::exception& e) {
        self->state.conn->reset_if_broken();
        log::error("reader", std::string("query failed: ") + e.what());
        reply(error_reply(500, "internal_error", "the query failed; see the server log"));
    }
}

reader_actor::behavior_type reader(self_ptr self, Config cfg) {
    self->state.conn = std::make_unique<store::Connection>(cfg.database_url, store::Role::reader);
    return {
        [=](GetJob& m) {
            guarded(self, m.reply, [&](pqxx::connection& c) {
                auto job = store::get_job_json(c, m.id);
                if (job)
                    m.reply(HttpReply{200, std::move(*job), {}});
                else
                    m.reply(error_reply(404, "not_found", "no job with id " + m.id));
            });
        },
        [=](ListJobs& m) {
            guarded(self, m.reply, [&](pqxx::connection& c) {
                auto page = store::list_jobs(c, m.query);
                std::string body = "[";
                for (size_t i = 0; i < page.jobs.size(); ++i)
                    body += (i ? "," : "") + page.jobs[i];
                body += ']';
                HttpReply r{200, std::move(body), {}};
                if (page.next)
                    r.headers.emplace_back("Link", "</jobs?" +
                                                       next_page_query(m.query, *page.next) +
                                                       ">; rel=\"next\"");
                m.reply(std::move(r));
            });
        },
        [=](CheckHealth& m) {
            try {
                store::ping(self->state.conn->get());
                m.reply(HttpReply{200, R"({"status":"ok","database":"ok"})", {}});
            } catch (const std::exception& e) {
                self->state.conn->reset();
                log::warn("reader",
                          std::string("health check: database not reachable: ") + e.what());
                m.reply(HttpReply{
                    503,
                    R"({"status":"unavailable","database":"unreachable","error":{"code":"database_unavailable","message":"the database is not reachable"}})",
                    {}});
            }
        },
        [=](stop_atom) { self->quit(); },
    };
}

} // namespace

reader_actor spawn_reader(caf::actor_system& sys, const Config& cfg) {
    return sys.spawn<caf::detached>(reader, cfg);
}

} // namespace conveyor
