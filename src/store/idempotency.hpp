#pragma once
// The Idempotency-Key store (migrations/009_idempotency.sql): taking a key for one request,
// completing or releasing it, reading back what a repeat is answered with, and pruning.
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace conveyor::store {

// What taking a key found.
struct KeyHold {
    bool taken = false; // this request has the key now and runs
    std::string token;  // when taken: what completes or releases it
    std::vector<std::string> job_ids;
    std::string fingerprint;
    std::optional<std::string> response; // set: the first request answered; none: in flight
};

// Takes `key` for a request that would create `job_ids` (none for a bulk action). Nothing when a
// concurrent taker has the key but has not committed yet.
std::optional<KeyHold> take_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                                            const std::string& fingerprint,
                                            const std::vector<std::string>& job_ids, long ttl_s,
                                            long in_flight_s);
void complete_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                              const std::string& token, const std::string& response,
                              const std::vector<std::string>& job_ids);
void release_idempotency_key(pqxx::transaction_base& tx, const std::string& key,
                             const std::string& token);
// The jobs as API JSON in the order given; none for a job that no longer exists.
std::vector<std::optional<std::string>> jobs_by_ids(pqxx::transaction_base& tx,
                                                    const std::vector<std::string>& ids);
// Deletes at most `limit` expired keys; returns how many.
int prune_idempotency_keys(pqxx::connection& conn, int limit);

} // namespace conveyor::store
