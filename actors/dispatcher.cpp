#include "actors/dispatcher.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "json_util.hpp"
#include "log.hpp"
#include "store/queries.hpp"

namespace conveyor {

HttpReply error_reply(int status, const std::string& code, const std::string& message) {
    return HttpReply{status, error_body(code, message), {}};
}

namespace {

struct dispatcher_state {
    std::unique_ptr<store::Connection> conn;
    std::vector<SubmitJobs> submits;
    std::vector<AttemptResult> results;
    std::vector<std::pair<std::string, int>> releases;
    bool flush_scheduled = false;
    bool stopping = false;
    int failed_flushes = 0;
    static inline const char* name = "dispatcher";
};

using self_ptr = dispatcher_actor::stateful_pointer<dispatcher_state>;

void answer_inserted(SubmitJobs& s, std::vector<std::string>::iterator rendered) {
    if (!s.batch) {
        HttpReply r{201, std::move(*rendered), {}};
        // The id is the first string field of the rendered job.
        auto& id = s.jobs.front().id;
        r.headers.emplace_back("Location", "/jobs/" + id);
        s.reply(std::move(r));
        return;
    }
    std::string body = "[";
    for (size_t i = 0; i < s.jobs.size(); ++i) {
        if (i)
            body += ',';
        body += rendered[static_cast<long>(i)];
    }
    body += ']';
    s.reply(HttpReply{201, std::move(body), {}});
}

// Inserts the given submissions in one transaction; writes results and releases too when asked.
// Throws what the database throws.
void write_group(self_ptr self, std::vector<SubmitJobs>& submits, bool with_updates,
                 const Config& cfg, const std::string& worker) {
    auto& st = self->state;
    std::vector<NewJob> all;
    bool wake = false;
    for (auto& s : submits)
        for (auto& j : s.jobs) {
            all.push_back(j);
            wake = wake || !j.run_at;
        }
    pqxx::work tx(st.conn->get());
    std::vector<std::string> rendered;
    if (!all.empty())
        rendered = store::insert_jobs(tx, all);
    if (with_updates && !st.results.empty())
        store::apply_results(tx, worker, st.results, cfg);
    if (with_updates && !st.releases.empty()) {
        store::release_jobs(tx, worker, st.releases);
        wake = true;
    }
    // Future run_at jobs are found by the claimers' due-time timers and polls; a NOTIFY is for
    // work that is due now. Every process listening wakes, not only this one.
    if (wake || !all.empty())
        store::notify_wake(tx);
    tx.commit();
    if (with_updates) {
        st.results.clear();
        st.releases.clear();
    }
    auto it = rendered.begin();
    for (auto& s : submits) {
        answer_inserted(s, it);
        it += static_cast<long>(s.jobs.size());
    }
}

void retry_updates_later(self_ptr self) {
    auto& st = self->state;
    if (st.results.empty() && st.releases.empty())
        return;
    // Results and releases stay buffered: retry with backoff, never drop them silently.
    if (++st.failed_flushes > 30) {
        log::error("dispatcher",
                   "dropping " + std::to_string(st.results.size()) +
                       " results after 30 failed writes; the reaper will retry those jobs");
        st.results.clear();
        st.releases.clear();
        st.failed_flushes = 0;
        return;
    }
    if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, std::chrono::milliseconds(std::min(1000, 50 * st.failed_flushes)),
                           flush_atom::value);
    }
}

void flush(self_ptr self, const Config& cfg, const std::string& worker) {
    auto& st = self->state;
    st.flush_scheduled = false;
    if (st.submits.empty() && st.results.empty() && st.releases.empty())
        return;
    std::vector<SubmitJobs> submits;
    submits.swap(st.submits);
    try {
        write_group(self, submits, true, cfg, worker);
        st.failed_flushes = 0;
        return;
    } catch (const pqxx::broken_connection& e) {
        st.conn->reset();
        log::warn("dispatcher", std::string("database connection lost: ") + e.what());
        for (auto& s : submits)
            s.reply(
                error_reply(503, "database_unavailable",
                            "the database is not reachable; the job was not stored, retry later"));
        retry_updates_later(self);
        return;
    } catch (const std::exception& e) {
        st.conn->reset_if_broken();
        log::error("dispatcher", std::string("write failed: ") + e.what());
    }
    // One bad submission must not fail the others, nor hold back the results: write each
    // submission alone, then the results alone.
    for (auto& s : submits) {
        std::vector<SubmitJobs> one;
        one.push_back(std::move(s));
        try {
            write_group(self, one, false, cfg, worker);
        } catch (const std::exception& e) {
            st.conn->reset_if_broken();
            log::error("dispatcher", std::string("insert failed: ") + e.what());
            bool down = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr;
            one.front().reply(down
                                  ? error_reply(503, "database_unavailable",
                                                "the database is not reachable; retry later")
                                  : error_reply(500, "internal_error",
                                                "the job could not be stored; see the server log"));
        }
    }
    if (st.results.empty() && st.releases.empty())
        return;
    try {
        std::vector<SubmitJobs> none;
        write_group(self, none, true, cfg, worker);
        st.failed_flushes = 0;
    } catch (const std::exception& e) {
        st.conn->reset_if_broken();
        log::error("dispatcher", std::string("writing results failed: ") + e.what());
        retry_updates_later(self);
    }
}

void schedule_flush(self_ptr self) {
    if (self->state.flush_scheduled)
        return;
    self->state.flush_scheduled = true;
    // Sent to ourselves: everything already queued in the mailbox joins this group.
    self->send(self, flush_atom::value);
}

dispatcher_actor::behavior_type dispatcher(self_ptr self, Config cfg, std::string worker) {
    self->state.conn = std::make_unique<store::Connection>(cfg.database_url, store::Role::writer);
    return {
        [=](SubmitJobs& m) {
            if (self->state.stopping) {
                m.reply(error_reply(503, "shutting_down",
                                    "the server is shutting down; retry on another instance"));
                return;
            }
            self->state.submits.push_back(std::move(m));
            schedule_flush(self);
        },
        [=](AttemptsFinished& m) {
            for (auto& r : m.results)
                self->state.results.push_back(std::move(r));
            schedule_flush(self);
        },
        [=](ReleaseJobs& m) {
            for (auto& r : m.id_attempts)
                self->state.releases.push_back(std::move(r));
            schedule_flush(self);
        },
        [=](flush_atom) { flush(self, cfg, worker); },
        [=](stop_atom) {
            self->state.stopping = true;
            flush(self, cfg, worker);
            self->quit();
            return true;
        },
    };
}

} // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys, const Config& cfg,
                                  const std::string& worker_id) {
    return sys.spawn<caf::detached>(dispatcher, cfg, worker_id);
}

} // namespace conveyor
