#include "actors/writer.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <set>

#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

// What a group of commands of one kind writes, and how each command ends. Adding a command is a
// struct in messages.hpp and one overload of each function below.
struct WriteContext {
    const std::string& worker;
    const std::string& backoff; // store::backoff_table of the config, built once
    // Written again on a new connection after the last one died, perhaps during its COMMIT.
    bool replaying = false;
};

// --- InsertJobs
void write(pqxx::transaction_base& tx, const std::vector<InsertJobs*>& group,
           const WriteContext& ctx) {
    std::vector<NewJob> all;
    for (auto* c : group)
        all.insert(all.end(), c->jobs.begin(), c->jobs.end());
    auto rendered = store::insert_jobs(tx, all, ctx.replaying);
    auto it = rendered.begin();
    for (auto* c : group) {
        c->rendered.assign(std::make_move_iterator(it),
                           std::make_move_iterator(it + static_cast<long>(c->jobs.size())));
        it += static_cast<long>(c->jobs.size());
    }
}
void wakes(const InsertJobs& c, std::set<std::string>& queues) {
    for (const auto& job : c.jobs)
        queues.insert(job.queue);
}
void committed(InsertJobs& c) {
    for (std::size_t i = 0; i < c.jobs.size(); ++i)
        if (c.rendered[i].duplicate)
            metrics::job_deduplicated(c.jobs[i].queue);
        else
            metrics::job_enqueued(c.jobs[i].queue, c.jobs[i].job_type);
    c.reply(Inserted{std::move(c.rendered), c.batch});
}
// Returns true when the command should be tried again later.
bool failed(InsertJobs& c, const RequestOutcome& why) {
    c.reply(why);
    return false;
}

// --- RecordResults
void write(pqxx::transaction_base& tx, const std::vector<RecordResults*>& group,
           const WriteContext& ctx) {
    std::vector<AttemptResult> all;
    for (auto* c : group)
        all.insert(all.end(), c->results.begin(), c->results.end());
    store::record_results(tx, ctx.worker, all, ctx.backoff);
}
void wakes(const RecordResults& c, std::set<std::string>& queues) {
    queues.insert(c.wake.begin(), c.wake.end());
}
void committed(RecordResults&) {}
bool failed(RecordResults&, const RequestOutcome&) {
    return true; // never dropped silently: written again after a pause
}

// --- ReleaseAttempts
void write(pqxx::transaction_base& tx, const std::vector<ReleaseAttempts*>& group,
           const WriteContext& ctx) {
    std::vector<AttemptRef> all;
    for (auto* c : group)
        all.insert(all.end(), c->attempts.begin(), c->attempts.end());
    store::release_attempts(tx, ctx.worker, all);
}
void wakes(const ReleaseAttempts&, std::set<std::string>& queues) {
    queues.insert(""); // every process: released jobs may be in any of the queues
}
void committed(ReleaseAttempts&) {}
bool failed(ReleaseAttempts&, const RequestOutcome&) {
    return true;
}

// --- UpdateQueue
void write(pqxx::transaction_base& tx, const std::vector<UpdateQueue*>& group,
           const WriteContext&) {
    for (auto* c : group) {
        store::update_queue(tx, c->name, c->paused, c->set_limit, c->limit);
        c->rendered = store::list_queues(tx, c->name).front();
    }
}
void wakes(const UpdateQueue& c, std::set<std::string>& queues) {
    // A resumed queue or a raised limit is claimed from at once, not at the next poll.
    if (c.paused != std::optional<bool>(true))
        queues.insert(c.name);
}
void committed(UpdateQueue& c) {
    c.reply(Found{std::move(c.rendered)});
}
bool failed(UpdateQueue& c, const RequestOutcome& why) {
    c.reply(why);
    return false;
}

using Commands = std::vector<WriteCommand*>;

// Writes every kind present in `commands`, one statement per kind, in variant order.
template <std::size_t I>
void write_kind(pqxx::transaction_base& tx, const Commands& commands, const WriteContext& ctx) {
    std::vector<std::variant_alternative_t<I, WriteCommand>*> group;
    for (auto* c : commands)
        if (auto* p = std::get_if<I>(c))
            group.push_back(p);
    if (!group.empty())
        write(tx, group, ctx);
}
template <std::size_t... I>
void write_grouped(pqxx::transaction_base& tx, const Commands& commands, const WriteContext& ctx,
                   std::index_sequence<I...>) {
    (write_kind<I>(tx, commands, ctx), ...);
}
void write_grouped(pqxx::transaction_base& tx, const Commands& commands, const WriteContext& ctx) {
    write_grouped(tx, commands, ctx, std::make_index_sequence<std::variant_size_v<WriteCommand>>{});
}

std::set<std::string> queues_to_wake(const Commands& commands) {
    std::set<std::string> queues;
    for (const auto* c : commands)
        std::visit([&](const auto& x) { wakes(x, queues); }, *c);
    return queues;
}

struct writer_state {
    std::unique_ptr<store::Connection> conn;
    std::vector<WriteCommand> buffered;
    std::vector<WriteCommand> retry; // updates that failed, written again after a pause
    bool flush_scheduled = false;
    bool flush_now = false; // the scheduled flush is an immediate one
    bool stopping = false;
    int failed_flushes = 0;
    static inline const char* name = "writer";
};

using self_ptr = writer_actor::stateful_pointer<writer_state>;

// A result holds no slot (the slot is freed when the handler returns), so it can wait for company:
// with several processes each writer's batches were small (~8 results a commit with 4 processes
// at 2 ms); 5 ms raised the drain of 4 processes by half in interleaved runs.
constexpr std::chrono::milliseconds kResultDelay{5};

void schedule_flush(self_ptr self, std::chrono::milliseconds delay = {}) {
    if (self->state.flush_scheduled && (delay.count() > 0 || self->state.flush_now))
        return;
    self->state.flush_now = delay.count() == 0;
    self->state.flush_scheduled = true;
    // Sent to ourselves: everything already queued in the mailbox joins this group.
    if (delay.count() == 0)
        self->send(self, flush_atom::value);
    else
        self->delayed_send(self, delay, flush_atom::value);
}

// Ends each command whose write did not commit; keeps the ones worth trying again.
void fail(self_ptr self, const Commands& commands, const RequestOutcome& why) {
    for (auto* c : commands)
        if (std::visit([&](auto& x) { return failed(x, why); }, *c))
            self->state.retry.push_back(std::move(*c));
}

void succeed(const Commands& commands) {
    for (auto* c : commands)
        std::visit([](auto& x) { committed(x); }, *c);
}

// One transaction for everything: the common case, one statement per kind of command.
void commit_together(pqxx::connection& conn, const Commands& commands, const WriteContext& ctx) {
    pqxx::work tx(conn);
    store::apply_local_settings(tx, store::Role::writer);
    write_grouped(tx, commands, ctx);
    // Future run_at jobs are found by the claimers' due-time timers and polls; a NOTIFY is for
    // work that is due now. Every process listening wakes, not only this one.
    store::notify_wake(tx, queues_to_wake(commands));
    tx.commit();
}

// After a refused group: one transaction again, each command behind its own savepoint, so the
// one the database refuses fails alone and the others commit. Returns the refused ones.
Commands commit_each(pqxx::connection& conn, const Commands& commands, Commands& written,
                     const WriteContext& ctx) {
    pqxx::work tx(conn);
    store::apply_local_settings(tx, store::Role::writer);
    Commands refused;
    for (auto* c : commands) {
        // Plain SAVEPOINT statements: libpqxx 6's subtransaction leaves the transaction
        // aborted after a failed statement instead of rolling back to its savepoint.
        tx.exec0("SAVEPOINT command");
        try {
            write_grouped(tx, {c}, ctx);
            tx.exec0("RELEASE SAVEPOINT command");
            written.push_back(c);
        } catch (const pqxx::broken_connection&) {
            throw;
        } catch (const pqxx::in_doubt_error&) {
            throw;
        } catch (const std::exception& e) {
            log::error("writer", std::string("write refused: ") + e.what());
            tx.exec0("ROLLBACK TO SAVEPOINT command");
            refused.push_back(c);
        }
    }
    store::notify_wake(tx, queues_to_wake(written));
    tx.commit();
    return refused;
}

// Runs `body`; when it throws, every command in `commands` fails with the matching outcome.
template <typename F> bool guarded(self_ptr self, const Commands& commands, F&& body) {
    try {
        body();
        return true;
    } catch (const pqxx::broken_connection& e) {
        self->state.conn->reset();
        log::warn("writer", std::string("database connection lost: ") + e.what());
        fail(self, commands, StoreUnavailable{});
    } catch (const pqxx::in_doubt_error& e) {
        // Twice in a row: the database went away during COMMIT and did not come back.
        self->state.conn->reset();
        log::warn("writer", std::string("commit outcome unknown: ") + e.what());
        fail(self, commands, StoreUnavailable{});
    } catch (const std::exception& e) {
        self->state.conn->reset_if_broken();
        log::error("writer", std::string("write failed: ") + e.what());
        fail(self, commands, StoreFailed{});
    }
    return false;
}

// Every command is safe to write again after an unknown outcome: inserts find the rows they carry
// the ids of, and updates are guarded by the state they change (store::Replay::always).
void write_buffered(self_ptr self, const Commands& commands, const WriteContext& ctx) {
    auto& conn = *self->state.conn;
    Commands written, refused;
    bool wrote = guarded(self, commands, [&] {
        conn.run(store::Replay::always, [&](pqxx::connection& c, bool replaying) {
            WriteContext again{ctx.worker, ctx.backoff, replaying};
            if (replaying)
                log::info("writer", "database connection lost; writing again on a new one");
            written = commands;
            refused.clear();
            try {
                commit_together(c, commands, again);
                return;
            } catch (const pqxx::broken_connection&) {
                throw;
            } catch (const pqxx::in_doubt_error&) {
                throw;
            } catch (const std::exception& e) {
                if (!c.is_open())
                    throw pqxx::broken_connection(e.what());
                log::error("writer", std::string("group write failed, writing each command "
                                                 "alone: ") +
                                         e.what());
            }
            written.clear();
            refused = commit_each(c, commands, written, again);
        });
    });
    if (!wrote)
        return;
    succeed(written);
    fail(self, refused, StoreFailed{});
}

void flush(self_ptr self, const WriteContext& ctx) {
    auto& st = self->state;
    st.flush_scheduled = false;
    std::vector<WriteCommand> owned;
    owned.swap(st.retry);
    for (auto& c : st.buffered)
        owned.push_back(std::move(c));
    st.buffered.clear();
    if (owned.empty())
        return;
    Commands commands;
    for (auto& c : owned)
        commands.push_back(&c);
    write_buffered(self, commands, ctx);
    if (st.retry.empty()) {
        st.failed_flushes = 0;
        return;
    }
    if (++st.failed_flushes > 30) {
        log::error("writer", "dropping " + std::to_string(st.retry.size()) +
                                 " result writes after 30 failed attempts; the reaper will "
                                 "retry those jobs");
        st.retry.clear();
        st.failed_flushes = 0;
        return;
    }
    schedule_flush(self, std::chrono::milliseconds(std::min(1000, 50 * st.failed_flushes)));
}

writer_actor::behavior_type writer(self_ptr self, std::shared_ptr<const Config> cfg,
                                   std::string worker) {
    self->state.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::writer);
    // The same for every result write: built once, not per batch.
    const std::string backoff = store::backoff_table(*cfg);
    return {
        [=](WriteCommand& c) {
            if (self->state.stopping) {
                fail(self, {&c}, ShuttingDown{});
                return;
            }
            // Results wait a moment for more: with durable commits every write is a WAL flush
            // that the claimer's commits queue behind. Anything a client waits for goes now.
            bool results = std::holds_alternative<RecordResults>(c);
            self->state.buffered.push_back(std::move(c));
            schedule_flush(self, results ? kResultDelay : std::chrono::milliseconds(0));
        },
        [=](flush_atom) {
            flush(self, WriteContext{worker, backoff});
        },
        [=](stop_atom) {
            self->state.stopping = true;
            flush(self, WriteContext{worker, backoff});
            self->quit();
            return true;
        },
    };
}

} // namespace

writer_actor spawn_writer(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          const std::string& worker_id) {
    return sys.spawn<caf::detached>(writer, std::move(cfg), worker_id);
}

} // namespace conveyor
