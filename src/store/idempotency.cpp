#include "store/idempotency.hpp"

#include <nlohmann/json.hpp>

#include "store/statement.hpp"

namespace conveyor::store {

namespace {
// A uuid[] literal; the ids are UUIDs (made here or read from the database), so need no quoting.
std::string uuid_array(const std::vector<std::string>& ids) {
    std::string out = "{";
    for (size_t i = 0; i < ids.size(); ++i)
        out += (i ? "," : "") + ids[i];
    return out + "}";
}
} // namespace

std::optional<KeyHold> take_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                                            const std::string& fingerprint,
                                            const std::vector<std::string>& job_ids, long ttl_s,
                                            long in_flight_s) {
    // Taking need not wait for its WAL flush: the answer is only given after the completing
    // commit, which this session makes later and which is flushed, taking and all.
    tx.exec0("SET LOCAL synchronous_commit = off");
    auto rows =
        exec(tx, "idempotency_take", key, fingerprint, uuid_array(job_ids), ttl_s, in_flight_s);
    if (rows.empty())
        return std::nullopt;
    const auto& row = rows[0];
    KeyHold hold;
    hold.taken = row["taken"].as<bool>();
    if (!row["token"].is_null())
        hold.token = row["token"].c_str();
    for (const auto& id : nlohmann::json::parse(row["job_ids"].c_str()))
        hold.job_ids.push_back(id.get<std::string>());
    hold.fingerprint = row["fingerprint"].c_str();
    if (!row["response"].is_null())
        hold.response = row["response"].c_str();
    return hold;
}

void complete_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                              const std::string& token, const std::string& response,
                              const std::vector<std::string>& job_ids) {
    exec(tx, "idempotency_complete", key, token, response, uuid_array(job_ids));
}

void release_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                             const std::string& token) {
    exec(tx, "idempotency_release", key, token);
}

std::vector<std::optional<std::string>> jobs_by_ids(pqxx::transaction_base& tx,
                                                    const std::vector<std::string>& ids) {
    std::vector<std::optional<std::string>> out;
    for (const auto& row : exec(tx, "jobs_by_ids", uuid_array(ids)))
        out.push_back(row["job"].is_null() ? std::nullopt
                                           : std::optional<std::string>(row["job"].c_str()));
    return out;
}

int prune_idempotency_keys(pqxx::connection& conn, int limit) {
    pqxx::work tx(conn);
    auto n = exec(tx, "prune_idempotency", limit).affected_rows();
    tx.commit();
    return static_cast<int>(n);
}

} // namespace conveyor::store
