#include "actors/idempotency_keeper.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/request_transaction.hpp"
#include "log.hpp"
#include "store/connection.hpp"
#include "store/idempotency.hpp"

namespace conveyor {

namespace {

struct keeper_state {
    std::unique_ptr<store::Connection> conn;
    writer_actor writer;
    controller_actor controller;
    long ttl_s = 86400;
    std::vector<KeyAnswered> answered; // to record, then answer (record_answers)
    bool flush_scheduled = false;
    static inline const char* name = "idempotency_keeper";
};

using self_ptr = idempotency_keeper_actor::stateful_pointer<keeper_state>;

ReplyTo& reply_of(IdempotentRequest& m) {
    return std::visit([](auto& r) -> ReplyTo& { return r.reply; }, m.request);
}

// A job the record names that was deleted since.
std::string gone(const std::string& id) {
    return nlohmann::json{{"id", id}, {"deleted", true}}.dump();
}

// The answer a repeat gets: the stored shape, with each job as it is now.
Inserted current_jobs(pqxx::transaction_base& tx, const std::vector<std::string>& ids,
                      const nlohmann::json& shape) {
    Inserted out;
    out.batch = shape.value("batch", false);
    out.replayed = true;
    auto rows = store::jobs_by_ids(tx, ids);
    const auto& duplicate = shape.contains("duplicate") ? shape["duplicate"] : nlohmann::json();
    for (size_t i = 0; i < ids.size(); ++i) {
        InsertedJob job{ids[i], rows[i] ? *rows[i] : gone(ids[i]), false};
        job.duplicate = duplicate.is_array() && i < duplicate.size() && duplicate[i].is_boolean() &&
                        duplicate[i].get<bool>();
        if (job.duplicate)
            job.json.insert(job.json.size() - 1, ",\"duplicate\":true");
        out.jobs.push_back(std::move(job));
    }
    return out;
}

RequestOutcome replay(pqxx::transaction_base& tx, const store::KeyHold& hold) {
    auto shape = nlohmann::json::parse(*hold.response);
    if (shape.contains("bulk"))
        return Found{shape["bulk"].dump(), true};
    return current_jobs(tx, hold.job_ids, shape);
}

// What a repeat of a request answered with `outcome` gets: nothing for a failure, which did
// nothing and so gives the key back.
std::optional<std::pair<std::string, std::vector<std::string>>>
record_of(const RequestOutcome& outcome) {
    if (auto* ins = std::get_if<Inserted>(&outcome)) {
        nlohmann::json duplicate = nlohmann::json::array();
        std::vector<std::string> ids;
        for (const auto& j : ins->jobs) {
            duplicate.push_back(j.duplicate);
            ids.push_back(j.id);
        }
        return std::make_pair(
            nlohmann::json{{"batch", ins->batch}, {"duplicate", duplicate}}.dump(), ids);
    }
    if (auto* found = std::get_if<Found>(&outcome))
        return std::make_pair(nlohmann::json{{"bulk", nlohmann::json::parse(found->json)}}.dump(),
                              std::vector<std::string>{});
    return std::nullopt;
}

void take(self_ptr self, IdempotentRequest& m) {
    auto& st = self->state;
    auto* insert = std::get_if<InsertJobs>(&m.request);
    std::vector<std::string> ids;
    if (insert)
        for (const auto& j : insert->jobs)
            ids.push_back(j.id);
    std::optional<store::KeyHold> hold;
    std::optional<RequestOutcome> answer;
    auto failed = in_transaction(
        *self->state.conn, "idempotency", "idempotency key", [&](pqxx::transaction_base& tx) {
            // A concurrent taker's row is invisible to the statement's snapshot until it commits;
            // the second statement, with a new snapshot, sees it.
            for (int i = 0; i < 2 && !hold; ++i)
                hold = store::take_idempotency_key(tx, m.key, m.fingerprint, ids, st.ttl_s,
                                                   kKeyInFlightS);
            if (!hold) {
                answer = KeyConflict{true};
            } else if (!hold->taken) {
                if (hold->fingerprint != m.fingerprint)
                    answer = KeyConflict{false};
                else if (!hold->response)
                    answer = KeyConflict{true};
                else
                    answer = replay(tx, *hold);
            } else if (insert && hold->job_ids != ids && hold->job_ids.size() == ids.size()) {
                // Taken over from a taker that died in flight: if its insert committed, its jobs
                // are there, and they are the answer; otherwise run with its ids.
                auto rows = store::jobs_by_ids(tx, hold->job_ids);
                if (std::any_of(rows.begin(), rows.end(),
                                [](const auto& r) { return r.has_value(); })) {
                    auto out = current_jobs(tx, hold->job_ids, {{"batch", insert->batch}});
                    store::complete_idempotency_key(tx, m.key, hold->token, record_of(out)->first,
                                                    hold->job_ids);
                    answer = std::move(out);
                } else {
                    for (size_t i = 0; i < ids.size(); ++i)
                        insert->jobs[i].id = hold->job_ids[i];
                }
            }
        });
    auto& reply = reply_of(m);
    if (failed || answer) {
        reply(std::move(failed ? *failed : *answer));
        return;
    }
    // Run it; its answer comes back here to be recorded before the client gets it.
    ReplyTo client = std::move(reply);
    reply = [keeper = caf::actor_cast<idempotency_keeper_actor>(self), key = m.key,
             token = hold->token, client = std::move(client)](RequestOutcome o) {
        caf::anon_send(keeper, KeyAnswered{key, token, std::move(o), client});
    };
    if (insert)
        caf::anon_send(st.writer, WriteCommand{std::move(*insert)});
    else
        caf::anon_send(st.controller, std::move(std::get<ChangeJobs>(m.request)));
}

// Records every answer that arrived meanwhile in one transaction, one WAL flush for all (each
// waiting for its own made keyed submissions 5 times slower than plain ones), then answers.
void record_answers(self_ptr self) {
    auto& st = self->state;
    st.flush_scheduled = false;
    std::vector<KeyAnswered> answers;
    answers.swap(st.answered);
    auto failed =
        in_transaction(*st.conn, "idempotency", "idempotency key", [&](pqxx::transaction_base& tx) {
            for (const auto& a : answers) {
                if (auto record = record_of(a.outcome))
                    store::complete_idempotency_key(tx, a.key, a.token, record->first,
                                                    record->second);
                else
                    store::release_idempotency_key(tx, a.key, a.token);
            }
        });
    // The requests themselves are done either way: a key left taken only refuses repeats (409)
    // until kKeyInFlightS has passed, then the repeat finds the jobs by their ids.
    if (failed)
        log::warn("idempotency", "could not record the answers for " +
                                     std::to_string(answers.size()) +
                                     " Idempotency-Keys; their repeats get 409 for up to " +
                                     std::to_string(kKeyInFlightS) + " s");
    for (auto& a : answers)
        a.reply(std::move(a.outcome));
}

idempotency_keeper_actor::behavior_type keeper(self_ptr self, std::shared_ptr<const Config> cfg,
                                               writer_actor writer, controller_actor controller) {
    auto& st = self->state;
    st.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::writer);
    st.writer = std::move(writer);
    st.controller = std::move(controller);
    st.ttl_s = cfg->idempotency_ttl_s;
    return {
        [=](IdempotentRequest& m) { take(self, m); },
        [=](KeyAnswered& a) {
            self->state.answered.push_back(std::move(a));
            if (!self->state.flush_scheduled) {
                self->state.flush_scheduled = true;
                self->send(self, flush_atom::value);
            }
        },
        [=](flush_atom) { record_answers(self); },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

idempotency_keeper_actor spawn_idempotency_keeper(caf::actor_system& sys,
                                                  std::shared_ptr<const Config> cfg,
                                                  writer_actor writer,
                                                  controller_actor controller) {
    return sys.spawn<caf::detached>(keeper, std::move(cfg), std::move(writer),
                                    std::move(controller));
}

} // namespace conveyor
