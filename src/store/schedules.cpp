#include "store/schedules.hpp"

#include "store/statement.hpp"

namespace conveyor::store {

namespace {
// libpqxx 6 sends a null const char* as SQL NULL.
std::optional<std::string> text_of(std::optional<std::int64_t> v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}
const char* or_null(const std::optional<std::string>& s) {
    return s ? s->c_str() : nullptr;
}
} // namespace

std::int64_t db_now(pqxx::transaction_base& tx) {
    return exec(tx, "db_now")[0][0].as<std::int64_t>();
}

StoredSchedule upsert_schedule(pqxx::transaction_base& tx, const ScheduleSpec& spec,
                               std::optional<std::int64_t> next_run) {
    auto next = text_of(next_run);
    auto row = exec(tx, "upsert_schedule", spec.name, spec.cron, spec.timezone, spec.job,
                    spec.enabled ? "true" : "false", or_null(next))[0];
    return {row["schedule"].c_str(), row["created"].as<bool>()};
}

std::vector<std::string> list_schedules(pqxx::transaction_base& tx,
                                        const std::optional<std::string>& name) {
    std::vector<std::string> out;
    for (const auto& row : exec(tx, "list_schedules", name ? name->c_str() : nullptr))
        out.emplace_back(row["schedule"].c_str());
    return out;
}

bool delete_schedule(pqxx::transaction_base& tx, const std::string& name) {
    return exec(tx, "delete_schedule", name).affected_rows() > 0;
}

std::optional<std::string> schedule_job(pqxx::transaction_base& tx, const std::string& name) {
    auto rows = exec(tx, "schedule_job", name);
    if (rows.empty())
        return std::nullopt;
    return std::string(rows[0]["job"].c_str());
}

std::vector<DueSchedule> lock_due_schedules(pqxx::transaction_base& tx, int limit) {
    std::vector<DueSchedule> out;
    for (const auto& row : exec(tx, "lock_due_schedules", limit))
        out.push_back({row["name"].c_str(), row["cron"].c_str(), row["timezone"].c_str(),
                       row["job"].c_str(), row["next_s"].as<std::int64_t>(),
                       row["now_s"].as<std::int64_t>()});
    return out;
}

void advance_schedule(pqxx::transaction_base& tx, const std::string& name,
                      std::optional<std::int64_t> next_run, std::optional<std::int64_t> slot) {
    auto next = text_of(next_run), done = text_of(slot);
    exec(tx, "advance_schedule", name, or_null(next), or_null(done));
}

} // namespace conveyor::store
