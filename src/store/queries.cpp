#include "store/queries.hpp"

#include <map>
#include <stdexcept>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "store/sql.hpp"
#include "store/statement.hpp"

namespace conveyor::store {

namespace {

std::string dump(const nlohmann::json& doc) {
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A PostgreSQL array literal of text (libpqxx 6 takes arrays as text): each element
// double-quoted with \ and " escaped.
std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (size_t i = 0; i < items.size(); ++i) {
        out += i ? ",\"" : "\"";
        for (char c : items[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

// libpqxx 6 sends a null const char* as SQL NULL.
// A list filter as a text[] parameter; nothing (NULL: any) when the list is empty.
std::optional<std::string> filter_array(const std::vector<std::string>& items) {
    if (items.empty())
        return std::nullopt;
    return text_array(items);
}
std::optional<std::string> filter_array(const std::vector<JobStatus>& statuses) {
    std::vector<std::string> names;
    for (auto s : statuses)
        names.emplace_back(to_string(s));
    return filter_array(names);
}

const char* or_null(const std::optional<std::string>& s) {
    return s ? s->c_str() : nullptr;
}

JobStatus status_of(const pqxx::field& f) {
    auto s = parse_job_status(f.c_str());
    if (!s)
        throw std::runtime_error(std::string("unknown job status '") + f.c_str() + "'");
    return *s;
}

std::vector<JobEvent> to_events(const pqxx::result& rows) {
    std::vector<JobEvent> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        auto id = row["id"].as<std::uint64_t>();
        out.push_back(JobEvent{id, row["job_id"].c_str(), row["job_type"].c_str(),
                               row["queue"].c_str(), status_of(row["status"]),
                               sse_frame(id, row["data"].c_str(), row["kind"].c_str())});
    }
    return out;
}

} // namespace

void prepare_statements(pqxx::connection& conn) {
    for (const auto& [name, text] : sql::all)
        conn.prepare(name, text);
}

std::string backoff_table(const Config& cfg) {
    std::string out = "{";
    for (int attempts = 1; attempts <= 100; ++attempts)
        out += (attempts > 1 ? "," : "") + std::to_string(cfg.backoff_after(attempts).count());
    return out + "}";
}

namespace {
std::string job_row(const NewJob& j) {
    std::string row = "{\"id\":\"" + j.id + "\",\"job_type\":" + nlohmann::json(j.job_type).dump() +
                      ",\"queue\":\"" + j.queue + "\",\"priority\":" + std::to_string(j.priority) +
                      ",\"payload\":" + j.payload +
                      ",\"max_attempts\":" + std::to_string(j.max_attempts);
    if (j.run_at)
        row += ",\"scheduled_at\":" + nlohmann::json(*j.run_at).dump();
    if (j.unique_key)
        row += ",\"unique_key\":" + dump(nlohmann::json(*j.unique_key));
    row += '}';
    return row;
}
} // namespace

std::vector<InsertedJob> insert_jobs(pqxx::transaction_base& tx, const std::vector<NewJob>& jobs,
                                     bool replaying) {
    // One statement for the whole group: the rows travel as one JSON array keyed by column
    // name. The payload is already serialized JSON, so it is spliced in rather than parsed again.
    // A duplicate's holder can finish between the insert and the look-up; then the job is
    // inserted after all, on the next round. Three rounds: a holder finishing twice in a row
    // within milliseconds is already unlikely.
    std::vector<InsertedJob> out(jobs.size());
    std::vector<size_t> todo;
    todo.reserve(jobs.size());
    std::unordered_map<std::string, std::string> stored;
    if (replaying) {
        std::vector<std::string> ids;
        for (const auto& j : jobs)
            ids.push_back(j.id);
        for (const auto& row : exec(tx, "find_jobs", text_array(ids)))
            stored.emplace(row["id"].c_str(), row["job"].c_str());
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
        // Ids are made fresh for each submission: a stored one is this submission's own row.
        if (auto it = stored.find(jobs[i].id); it != stored.end())
            out[i] = {jobs[i].id, std::move(it->second), false};
        else
            todo.push_back(i);
    }
    for (int round = 0; round < 3 && !todo.empty(); ++round) {
        std::string doc = "[";
        doc.reserve(todo.size() * 160);
        for (size_t k = 0; k < todo.size(); ++k)
            doc += (k ? "," : "") + job_row(jobs[todo[k]]);
        doc += ']';
        std::unordered_map<std::string, std::string> by_id;
        for (const auto& row : exec(tx, "insert_jobs", doc))
            by_id.emplace(row["id"].c_str(), row["job"].c_str());
        std::vector<size_t> duplicates;
        for (auto i : todo) {
            auto it = by_id.find(jobs[i].id);
            if (it != by_id.end())
                out[i] = {jobs[i].id, std::move(it->second), false};
            else
                duplicates.push_back(i);
        }
        todo.clear();
        if (duplicates.empty())
            break;
        std::vector<std::string> queues, keys;
        for (auto i : duplicates) {
            queues.push_back(jobs[i].queue);
            keys.push_back(*jobs[i].unique_key);
        }
        std::map<std::pair<std::string, std::string>, InsertedJob> holders;
        for (const auto& row : exec(tx, "duplicate_jobs", text_array(queues), text_array(keys)))
            holders[{row["queue"].c_str(), row["unique_key"].c_str()}] = {row["id"].c_str(),
                                                                          row["job"].c_str()};
        for (auto i : duplicates) {
            auto it = holders.find({jobs[i].queue, *jobs[i].unique_key});
            if (it == holders.end()) {
                todo.push_back(i);
                continue;
            }
            out[i] = it->second;
            out[i].duplicate = true;
            out[i].json.insert(out[i].json.size() - 1, ",\"duplicate\":true");
        }
    }
    if (!todo.empty())
        throw std::runtime_error("a unique_key changed hands three times during one insert");
    return out;
}

void notify_wake(pqxx::transaction_base& tx, const std::set<std::string>& queues) {
    if (!queues.empty())
        exec(tx, "notify_wake", text_array({queues.begin(), queues.end()}));
}

void record_results(pqxx::transaction_base& tx, const std::string& worker,
                    const std::vector<AttemptResult>& results, const std::string& backoff) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& r : results)
        doc.push_back({{"id", r.attempt.id},
                       {"attempt", r.attempt.attempt},
                       {"outcome", to_string(r.result.outcome)},
                       {"error", r.result.message}});
    exec(tx, "record_results", dump(doc), worker, backoff);
}

std::vector<ActionRow> apply_action(pqxx::transaction_base& tx, JobAction action,
                                    const std::vector<std::string>& ids) {
    const char* statement = action == JobAction::cancel  ? "cancel_jobs"
                            : action == JobAction::retry ? "retry_jobs"
                                                         : "delete_jobs";
    std::vector<ActionRow> out;
    bool running = false, deleted = false;
    for (const auto& row : exec(tx, statement, text_array(ids))) {
        ActionRow r;
        r.id = row["id"].c_str();
        r.before = parse_job_status(row["before"].c_str()).value_or(JobStatus::pending);
        if (!row["job"].is_null())
            r.changed = row["job"].c_str();
        running = running || (r.changed && r.before == JobStatus::processing);
        deleted = deleted || (r.changed && action == JobAction::remove);
        out.push_back(std::move(r));
    }
    if (running && action == JobAction::cancel)
        exec(tx, "notify_cancel");
    if (deleted)
        exec(tx, "notify_events");
    return out;
}

std::vector<std::string> bulk_page(pqxx::transaction_base& tx, const BulkFilter& filter,
                                   const std::optional<std::string>& after, int limit) {
    auto statuses = filter_array(filter.statuses);
    auto queues = filter_array(filter.queues), types = filter_array(filter.job_types);
    std::vector<std::string> out;
    for (const auto& row : exec(tx, "bulk_page", or_null(statuses), or_null(queues), or_null(types),
                                or_null(after), limit))
        out.emplace_back(row["id"].c_str());
    return out;
}

int release_attempts(pqxx::transaction_base& tx, const std::string& worker,
                     const std::vector<AttemptRef>& attempts) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& a : attempts)
        doc.push_back({{"id", a.id}, {"attempt", a.attempt}});
    return static_cast<int>(exec(tx, "release_attempts", dump(doc), worker).affected_rows());
}

namespace {
pqxx::result run_claim(pqxx::transaction_base& tx, const char* statement, const std::string& worker,
                       int limit, int lease_s, const ClaimScope& scope) {
    std::optional<std::string> queues, rooms;
    if (scope.queues) {
        queues = text_array(*scope.queues);
        std::string r = "{";
        for (size_t i = 0; i < scope.rooms.size(); ++i)
            r += (i ? "," : "") + (scope.rooms[i] ? std::to_string(*scope.rooms[i]) : "NULL");
        rooms = r + "}";
    }
    return exec(tx, statement, limit, worker, lease_s, or_null(queues), or_null(rooms));
}

ClaimedJob claimed_job(const pqxx::row& row) {
    return {row["id"].c_str(),         row["job_type"].c_str(),   row["queue"].c_str(),
            row["payload"].c_str(),    row["attempts"].as<int>(), row["max_attempts"].as<int>(),
            row["wait_s"].as<double>()};
}
} // namespace

Claimed claim_jobs(pqxx::transaction_base& tx, const std::string& worker, int limit, int lease_s,
                   const ClaimScope& scope) {
    Claimed out;
    for (const auto& row : run_claim(tx, "claim_jobs", worker, limit, lease_s, scope)) {
        if (row["id"].is_null())
            out.limited_queues.emplace_back(row["queue"].c_str());
        else
            out.jobs.push_back(claimed_job(row));
    }
    return out;
}

std::vector<ClaimedJob> claim_limited(pqxx::transaction_base& tx, const std::string& worker,
                                      int limit, int lease_s, const ClaimScope& scope) {
    std::vector<ClaimedJob> out;
    for (const auto& row : run_claim(tx, "claim_limited", worker, limit, lease_s, scope))
        out.push_back(claimed_job(row));
    return out;
}

std::optional<long long> ms_until_next_due(pqxx::connection& conn,
                                           const std::optional<std::vector<std::string>>& queues) {
    pqxx::nontransaction tx(conn);
    std::optional<std::string> names;
    if (queues)
        names = text_array(*queues);
    auto rows = exec(tx, "next_due", or_null(names));
    if (rows.empty() || rows[0]["ms"].is_null())
        return std::nullopt;
    return rows[0]["ms"].as<long long>();
}

std::vector<std::string> heartbeat(pqxx::transaction_base& tx, const std::string& worker,
                                   const std::vector<std::string>& ids, int lease_s) {
    std::vector<std::string> cancelled;
    for (const auto& row : exec(tx, "heartbeat", text_array(ids), worker, lease_s))
        if (row["cancel_requested"].as<bool>())
            cancelled.emplace_back(row["id"].c_str());
    return cancelled;
}

std::vector<std::string> cancel_requested(pqxx::transaction_base& tx, const std::string& worker,
                                          const std::vector<std::string>& ids) {
    std::vector<std::string> out;
    for (const auto& row : exec(tx, "cancel_requested", text_array(ids), worker))
        out.emplace_back(row["id"].c_str());
    return out;
}

std::vector<std::string> reap_lost_jobs(pqxx::transaction_base& tx, const Config& cfg) {
    std::vector<std::string> queues;
    for (const auto& row : exec(tx, "reap_lost", backoff_table(cfg)))
        queues.emplace_back(row["queue"].c_str());
    return queues;
}

std::vector<QueueCounts> count_jobs(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    std::vector<QueueCounts> out;
    for (const auto& row : exec(tx, "count_jobs"))
        out.push_back(QueueCounts{row["queue"].c_str(), row["pending"].as<long long>(),
                                  row["processing"].as<long long>(), row["done"].as<long long>(),
                                  row["failed"].as<long long>(), row["cancelled"].as<long long>(),
                                  row["oldest_pending_age_s"].as<double>(),
                                  row["cancel_requested"].as<long long>()});
    return out;
}

std::optional<std::string> get_job_json(pqxx::connection& conn, const std::string& id) {
    pqxx::nontransaction tx(conn);
    return get_job_json(tx, id);
}

std::optional<std::string> get_job_json(pqxx::transaction_base& tx, const std::string& id) {
    auto rows = exec(tx, "get_job", id);
    if (rows.empty())
        return std::nullopt;
    return std::string(rows[0]["job"].c_str());
}

Page list_jobs(pqxx::connection& conn, const ListQuery& q) {
    pqxx::nontransaction tx(conn);
    auto statuses = filter_array(q.statuses);
    auto types = filter_array(q.job_types), queues = filter_array(q.queues);
    std::optional<std::string> cursor_us, cursor_id;
    if (q.cursor) {
        cursor_us = std::to_string(q.cursor->created_us);
        cursor_id = q.cursor->id;
    }
    auto rows = exec(tx, "list_jobs", or_null(statuses), or_null(types), or_null(cursor_us),
                     or_null(cursor_id), q.limit + 1, or_null(queues), kMaxPageBytes,
                     or_null(q.unique_key));
    Page page;
    page.query = q;
    for (pqxx::result::size_type i = 0; i < rows.size(); ++i) {
        // One row more than the limit, or a row past the byte budget: the next page starts here.
        if (static_cast<int>(page.jobs.size()) == q.limit || rows[i]["job"].is_null()) {
            const auto& last = rows[i - 1];
            page.next = Cursor{last["created_us"].as<long long>(), last["id"].c_str()};
            break;
        }
        page.jobs.emplace_back(rows[i]["job"].c_str());
    }
    return page;
}

void ping(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    exec(tx, "ping");
}

std::vector<std::string> list_queues(pqxx::transaction_base& tx,
                                     const std::optional<std::string>& name) {
    std::vector<std::string> out;
    for (const auto& row : exec(tx, "list_queues", or_null(name)))
        out.emplace_back(row["queue"].c_str());
    return out;
}

void update_queue(pqxx::transaction_base& tx, const std::string& name, std::optional<bool> paused,
                  bool set_limit, std::optional<int> limit) {
    std::optional<std::string> pause_text, limit_text;
    if (paused)
        pause_text = *paused ? "true" : "false";
    if (limit)
        limit_text = std::to_string(*limit);
    exec(tx, "update_queue", name, or_null(pause_text), set_limit ? "true" : "false",
         or_null(limit_text));
}

std::vector<JobEvent> read_events(pqxx::connection& conn, std::uint64_t after_id, int limit) {
    pqxx::nontransaction tx(conn);
    return to_events(exec(tx, "read_events", after_id, limit));
}

std::vector<JobEvent> latest_events(pqxx::connection& conn, int n) {
    pqxx::nontransaction tx(conn);
    return to_events(exec(tx, "latest_events", n));
}

int prune_events(pqxx::connection& conn, long long keep) {
    pqxx::nontransaction tx(conn);
    return static_cast<int>(exec(tx, "prune_events", keep).affected_rows());
}

} // namespace conveyor::store
