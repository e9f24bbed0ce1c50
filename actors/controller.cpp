#include "actors/controller.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include "actors/request_transaction.hpp"
#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

struct controller_state {
    std::unique_ptr<store::Connection> conn;
    static inline const char* name = "controller";
};

using self_ptr = controller_actor::stateful_pointer<controller_state>;

// A pending job cancelled here ended without an attempt: counted as finished `cancelled`
// (conveyor_jobs_finished_total). A running one is counted by its executor when its attempt ends.
// Called after the commit, so a rolled-back page counts nothing.
void count_cancelled(JobAction action, const std::vector<store::ActionRow>& rows) {
    if (action != JobAction::cancel)
        return;
    for (const auto& r : rows) {
        if (!r.changed || r.before != JobStatus::pending)
            continue;
        auto job = nlohmann::json::parse(*r.changed, nullptr, false);
        if (job.is_object())
            metrics::job_cancelled(job.value("queue", ""), job.value("job_type", ""));
    }
}

std::string state_message(JobAction action, JobStatus status) {
    return std::string("cannot ") + to_string(action) + " a job that is " + to_string(status);
}

// The answer to an action on one job, from what the statement saw and did.
RequestOutcome single_outcome(JobAction action, const std::string& id,
                              std::vector<store::ActionRow>& rows,
                              const std::optional<std::string>& current) {
    if (rows.empty())
        return NotFound{"job", id};
    auto& row = rows.front();
    switch (action) {
    case JobAction::cancel:
        if (row.before == JobStatus::done || row.before == JobStatus::failed)
            return Conflict{row.before, state_message(action, row.before)};
        if (row.before == JobStatus::processing)
            return Accepted{row.changed ? *row.changed : current.value_or("{}")};
        return Found{row.changed ? *row.changed : current.value_or("{}")};
    case JobAction::retry:
        if (row.changed)
            return Found{*row.changed};
        if (row.before == JobStatus::failed || row.before == JobStatus::cancelled)
            return Conflict{row.before, "cannot retry: another unfinished job of its queue holds "
                                        "its unique_key"};
        return Conflict{row.before, state_message(action, row.before) +
                                        "; only failed or cancelled jobs can be retried"};
    case JobAction::remove:
        if (row.changed)
            return Deleted{};
        return Conflict{row.before, state_message(action, row.before) + "; cancel it first"};
    }
    return StoreFailed{};
}

void change_one(self_ptr self, ChangeJob& m) {
    std::vector<store::ActionRow> rows;
    std::optional<std::string> current;
    auto failed = in_transaction(
        *self->state.conn, "controller", "job action", [&](pqxx::transaction_base& tx) {
            rows = store::apply_action(tx, m.action, {m.id});
            // A cancel that found the job already cancelled or already asked to stop answers with
            // the job as it is.
            if (!rows.empty() && !rows.front().changed && m.action == JobAction::cancel)
                current = store::get_job_json(tx, m.id);
        });
    if (failed) {
        m.reply(std::move(*failed));
        return;
    }
    count_cancelled(m.action, rows);
    m.reply(single_outcome(m.action, m.id, rows, current));
}

// Counts what the action matched and changed; by filter, page by page, each page its own short
// transaction, so that no lock is held for longer than one page and claims never wait on it.
void change_many(self_ptr self, ChangeJobs& m) {
    long matched = 0, changed = 0;
    auto count = [&](const std::vector<store::ActionRow>& rows) {
        matched += static_cast<long>(rows.size());
        for (const auto& r : rows)
            changed += r.changed ? 1 : 0;
        count_cancelled(m.action, rows);
    };
    if (!m.target.filter) {
        std::vector<store::ActionRow> rows;
        if (auto failed = in_transaction(*self->state.conn, "controller", "job action",
                                         [&](pqxx::transaction_base& tx) {
                                             rows = store::apply_action(tx, m.action, m.target.ids);
                                         })) {
            m.reply(std::move(*failed));
            return;
        }
        count(rows);
    } else {
        std::optional<std::string> after;
        for (;;) {
            std::vector<std::string> page;
            std::vector<store::ActionRow> rows;
            auto failed = in_transaction(
                *self->state.conn, "controller", "job action", [&](pqxx::transaction_base& tx) {
                    page = store::bulk_page(tx, *m.target.filter, after, kBulkBatch);
                    if (!page.empty())
                        rows = store::apply_action(tx, m.action, page);
                });
            if (failed) {
                // Pages already done stay done: say how far it got.
                log::warn("controller", std::string("bulk ") + to_string(m.action) +
                                            " stopped after " + std::to_string(matched) + " jobs");
                m.reply(std::move(*failed));
                return;
            }
            count(rows);
            if (static_cast<int>(page.size()) < kBulkBatch)
                break;
            after = page.back();
        }
    }
    m.reply(Found{nlohmann::json{{"matched", matched}, {"changed", changed}}.dump()});
}

controller_actor::behavior_type controller(self_ptr self, std::shared_ptr<const Config> cfg) {
    self->state.conn = std::make_unique<store::Connection>(cfg->database_url, store::Role::writer);
    return {
        [=](ChangeJob& m) { change_one(self, m); },
        [=](ChangeJobs& m) { change_many(self, m); },
        [=](stop_atom) {
            self->quit();
            return true;
        },
    };
}

} // namespace

controller_actor spawn_controller(caf::actor_system& sys, std::shared_ptr<const Config> cfg) {
    return sys.spawn<caf::detached>(controller, std::move(cfg));
}

} // namespace conveyor
