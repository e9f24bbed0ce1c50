#include "store/queries.hpp"

#include <nlohmann/json.hpp>

namespace conveyor::store {

namespace {

// The API rendering of a job (SPEC §4), built by PostgreSQL so rows never round-trip through C++.
#define JOB_JSON(j)                                                                                \
    "json_build_object('id', " j ".id, 'job_type', " j ".job_type, 'payload', " j ".payload,"      \
    " 'status', " j ".status, 'attempts', " j ".attempts, 'max_attempts', " j ".max_attempts,"     \
    " 'last_error', " j ".last_error, 'scheduled_at', conveyor_ts(" j ".scheduled_at),"            \
    " 'processing_started_at', conveyor_ts(" j ".processing_started_at),"                          \
    " 'created_at', conveyor_ts(" j ".created_at), 'updated_at', conveyor_ts(" j                   \
    ".updated_at))::text"

// min(base * 5^(n-1), max) after the n-th failed attempt; $base_ms and $max_s are parameters.
#define BACKOFF(attempts, base, max)                                                               \
    "make_interval(secs => least(" base "::float8 * power(5, greatest(" attempts " - 1, 0)), " max \
    "::float8 * 1000) / 1000.0)"

const char* kInsertJobs =
    "INSERT INTO jobs (id, job_type, payload, max_attempts, scheduled_at) "
    "SELECT x.id, x.job_type, x.payload, x.max_attempts, coalesce(x.run_at, now()) "
    "FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, job_type text, payload jsonb, "
    "max_attempts int, run_at timestamptz) "
    "RETURNING id::text, " JOB_JSON("jobs");

const char* kApplyResults =
    // The materialized CTE parses the JSON once; each row is then found through the primary key
    // (the writer connection never plans sequential scans, see connection.cpp).
    "WITH r AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt "
    "int, "
    "outcome text, error text)) "
    "UPDATE jobs j SET "
    " status = CASE WHEN r.outcome = 'success' THEN 'done' "
    "   WHEN r.outcome = 'permanent' OR j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' "
    "END,"
    " last_error = CASE WHEN r.outcome = 'success' THEN j.last_error ELSE r.error END,"
    " scheduled_at = CASE WHEN r.outcome = 'transient' AND j.attempts < j.max_attempts"
    "   THEN now() + " BACKOFF(
        "j.attempts", "$3",
        "$4") " ELSE j.scheduled_at END,"
              " processing_started_at = NULL, heartbeat_at = NULL, locked_by = NULL, updated_at = "
              "now() "
              "FROM r WHERE j.id = r.id AND j.status = 'processing' "
              "AND j.locked_by = $2 AND j.attempts = r.attempt";

const char* kReleaseJobs =
    "WITH r AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, attempt "
    "int)) "
    "UPDATE jobs j SET status = 'pending', attempts = j.attempts - 1, scheduled_at = now(),"
    " processing_started_at = NULL, heartbeat_at = NULL, locked_by = NULL, updated_at = now() "
    "FROM r WHERE j.id = r.id AND j.status = 'processing' "
    "AND j.locked_by = $2 AND j.attempts = r.attempt";

const char* kClaimJobs =
    "WITH c AS (SELECT id FROM jobs WHERE status = 'pending' AND scheduled_at <= now() "
    " ORDER BY scheduled_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs j SET status = 'processing', attempts = j.attempts + 1,"
    " processing_started_at = now(), heartbeat_at = now(), locked_by = $2, updated_at = now() "
    "FROM c WHERE j.id = c.id "
    "RETURNING j.id::text, j.job_type, j.payload::text, j.attempts, j.max_attempts";

const char* kNextDue =
    "SELECT ceil(extract(epoch FROM (min(scheduled_at) - clock_timestamp())) * 1000)::bigint "
    "FROM jobs WHERE status = 'pending'";

const char* kHeartbeat = "UPDATE jobs SET heartbeat_at = now() "
                         "WHERE id = ANY($1::uuid[]) AND status = 'processing' AND locked_by = $2";

const char* kReapLost =
    "WITH lost AS (SELECT id FROM jobs WHERE status = 'processing'"
    " AND heartbeat_at < now() - make_interval(secs => $1) FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs j SET "
    " status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END,"
    " scheduled_at = CASE WHEN j.attempts >= j.max_attempts THEN j.scheduled_at"
    "   ELSE now() + " BACKOFF(
        "j.attempts", "$2",
        "$3") " END,"
              " last_error = 'worker lost: no heartbeat from ' || coalesce(j.locked_by, '?') ||"
              "   ' for over ' || $1 || ' s (attempt ' || j.attempts || ')',"
              " processing_started_at = NULL, heartbeat_at = NULL, locked_by = NULL, updated_at = "
              "now() "
              "FROM lost WHERE j.id = lost.id";

const char* kGetJob = "SELECT " JOB_JSON("j") " FROM jobs j WHERE j.id = $1::uuid";

// Keyset pagination over the (created_at, id) index.
const char* kListJobs = "SELECT " JOB_JSON(
    "j") ", (extract(epoch FROM j.created_at) * 1000000)::bigint, j.id::text "
         "FROM jobs j "
         "WHERE ($1::text[] IS NULL OR j.status = ANY($1::text[])) "
         " AND ($2::text IS NULL OR j.job_type = $2) "
         " AND ($3::bigint IS NULL OR (j.created_at, j.id) <"
         "   (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
         "ORDER BY j.created_at DESC, j.id DESC LIMIT $5";

const char* kReadEvents = "SELECT id, job_id::text, job_type, status, data FROM job_events WHERE "
                          "id > $1 ORDER BY id LIMIT $2";

const char* kLatestEvents =
    "SELECT * FROM (SELECT id, job_id::text, job_type, status, data FROM job_events"
    " ORDER BY id DESC LIMIT $1) e ORDER BY id";

const char* kPruneEvents =
    "DELETE FROM job_events WHERE id <= (SELECT max(id) FROM job_events) - $1";

std::string uuid_array(const std::vector<std::string>& ids) {
    // Ids are validated UUIDs (no quoting needed inside an array literal).
    std::string out = "{";
    for (size_t i = 0; i < ids.size(); ++i)
        out += (i ? "," : "") + ids[i];
    return out + "}";
}

} // namespace

void prepare_statements(pqxx::connection& conn, Role role) {
    switch (role) {
    case Role::writer:
        conn.prepare("insert_jobs", kInsertJobs);
        conn.prepare("apply_results", kApplyResults);
        conn.prepare("release_jobs", kReleaseJobs);
        break;
    case Role::claimer:
        conn.prepare("claim_jobs", kClaimJobs);
        conn.prepare("next_due", kNextDue);
        conn.prepare("heartbeat", kHeartbeat);
        break;
    case Role::reader:
        conn.prepare("get_job", kGetJob);
        conn.prepare("list_jobs", kListJobs);
        break;
    case Role::reaper:
        conn.prepare("reap_lost", kReapLost);
        conn.prepare("prune_events", kPruneEvents);
        break;
    case Role::listener:
        conn.prepare("read_events", kReadEvents);
        conn.prepare("latest_events", kLatestEvents);
        break;
    }
}

std::vector<std::string> insert_jobs(pqxx::work& tx, const std::vector<NewJob>& jobs) {
    // One statement for the whole group: the rows travel as one JSON array. The payload is
    // already serialized JSON, so it is spliced in rather than parsed again.
    std::string doc = "[";
    doc.reserve(jobs.size() * 160);
    for (size_t i = 0; i < jobs.size(); ++i) {
        const auto& j = jobs[i];
        if (i)
            doc += ',';
        doc += "{\"id\":\"" + j.id + "\",\"job_type\":" + nlohmann::json(j.job_type).dump() +
               ",\"payload\":" + j.payload + ",\"max_attempts\":" + std::to_string(j.max_attempts) +
               ",\"run_at\":" + (j.run_at ? nlohmann::json(*j.run_at).dump() : "null") + "}";
    }
    doc += ']';
    auto rows = tx.exec_prepared("insert_jobs", doc);
    std::unordered_map<std::string, std::string> by_id;
    by_id.reserve(rows.size());
    for (const auto& row : rows)
        by_id.emplace(row[0].c_str(), row[1].c_str());
    std::vector<std::string> out;
    out.reserve(jobs.size());
    for (const auto& j : jobs)
        out.push_back(std::move(by_id[j.id]));
    return out;
}

void notify_wake(pqxx::work& tx) {
    tx.exec0("NOTIFY conveyor_wake");
}

int apply_results(pqxx::work& tx, const std::string& worker,
                  const std::vector<AttemptResult>& results, const Config& cfg) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& r : results) {
        doc.push_back({{"id", r.id},
                       {"attempt", r.attempt},
                       {"outcome", to_string(r.result.outcome)},
                       {"error", r.result.message}});
    }
    auto res = tx.exec_prepared("apply_results",
                                doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                worker, cfg.backoff_base_ms, cfg.backoff_max_s);
    return static_cast<int>(res.affected_rows());
}

int release_jobs(pqxx::work& tx, const std::string& worker,
                 const std::vector<std::pair<std::string, int>>& id_attempts) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& [id, attempt] : id_attempts)
        doc.push_back({{"id", id}, {"attempt", attempt}});
    auto res = tx.exec_prepared("release_jobs", doc.dump(), worker);
    return static_cast<int>(res.affected_rows());
}

std::vector<ClaimedJob> claim_jobs(pqxx::nontransaction& tx, const std::string& worker, int limit) {
    auto rows = tx.exec_prepared("claim_jobs", limit, worker);
    std::vector<ClaimedJob> out;
    out.reserve(rows.size());
    for (const auto& row : rows)
        out.push_back(
            {row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].as<int>(), row[4].as<int>()});
    return out;
}

std::optional<long long> ms_until_next_due(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    auto rows = tx.exec_prepared("next_due");
    if (rows.empty() || rows[0][0].is_null())
        return std::nullopt;
    return rows[0][0].as<long long>();
}

int heartbeat(pqxx::work& tx, const std::string& worker, const std::vector<std::string>& ids) {
    return static_cast<int>(tx.exec_prepared("heartbeat", uuid_array(ids), worker).affected_rows());
}

int reap_lost_jobs(pqxx::work& tx, const Config& cfg) {
    return static_cast<int>(
        tx.exec_prepared("reap_lost", cfg.stale_after_s, cfg.backoff_base_ms, cfg.backoff_max_s)
            .affected_rows());
}

std::optional<std::string> get_job_json(pqxx::connection& conn, const std::string& id) {
    pqxx::nontransaction tx(conn);
    auto rows = tx.exec_prepared("get_job", id);
    if (rows.empty())
        return std::nullopt;
    return std::string(rows[0][0].c_str());
}

JobPage list_jobs(pqxx::connection& conn, const ListQuery& q) {
    pqxx::nontransaction tx(conn);
    std::optional<std::string> statuses;
    if (!q.statuses.empty()) {
        std::string s = "{";
        for (size_t i = 0; i < q.statuses.size(); ++i)
            s += (i ? "," : "") + q.statuses[i];
        statuses = s + "}";
    }
    std::string cursor_us = q.cursor ? std::to_string(q.cursor->created_us) : "";
    // libpqxx 6 sends a null const char* as SQL NULL.
    auto or_null = [](bool set, const std::string& s) { return set ? s.c_str() : nullptr; };
    auto rows =
        tx.exec_prepared("list_jobs", or_null(statuses.has_value(), statuses.value_or("")),
                         or_null(q.job_type.has_value(), q.job_type.value_or("")),
                         or_null(q.cursor.has_value(), cursor_us),
                         or_null(q.cursor.has_value(), q.cursor ? q.cursor->id : ""), q.limit + 1);
    JobPage page;
    for (const auto& row : rows) {
        if (static_cast<int>(page.jobs.size()) == q.limit) {
            const auto& last = rows[q.limit - 1];
            page.next = Cursor{last[1].as<long long>(), last[2].c_str()};
            break;
        }
        page.jobs.emplace_back(row[0].c_str());
    }
    return page;
}

void ping(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT 1");
}

} // namespace conveyor::store

namespace conveyor::store {

namespace {
std::vector<JobEvent> to_events(const pqxx::result& rows) {
    std::vector<JobEvent> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        auto id = row[0].as<std::uint64_t>();
        out.push_back(JobEvent{id, row[1].c_str(), row[2].c_str(), row[3].c_str(),
                               sse_frame(id, row[4].c_str())});
    }
    return out;
}
} // namespace

std::vector<JobEvent> read_events(pqxx::connection& conn, std::uint64_t after_id, int limit) {
    pqxx::nontransaction tx(conn);
    return to_events(tx.exec_prepared("read_events", after_id, limit));
}

std::vector<JobEvent> latest_events(pqxx::connection& conn, int n) {
    pqxx::nontransaction tx(conn);
    return to_events(tx.exec_prepared("latest_events", n));
}

int prune_events(pqxx::connection& conn, long long keep) {
    pqxx::nontransaction tx(conn);
    return static_cast<int>(tx.exec_prepared("prune_events", keep).affected_rows());
}

} // namespace conveyor::store
