#include "http/schedule_parsing.hpp"

#include <chrono>

#include <nlohmann/json.hpp>

#include "model/cron.hpp"
#include "model/cron_schedule.hpp"

namespace conveyor {

using nlohmann::json;

namespace {

ApiError invalid(const std::string& code, const std::string& message) {
    return {422, code, message};
}

// The stored form of a validated job: what was given (so every field POST /jobs accepts is kept),
// with the defaults made explicit, so that what a slot enqueues does not depend on the defaults of
// the version that runs it.
std::string normalized(json given, const NewJob& job) {
    given["job_type"] = job.job_type;
    given["queue"] = job.queue;
    given["priority"] = job.priority;
    given["payload"] = json::parse(job.payload);
    given["max_attempts"] = job.max_attempts;
    return given.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ApiError> check_cron(const json& j, ScheduleSpec& spec) {
    auto c = j.find("cron");
    if (c == j.end() || !c->is_string())
        return invalid("invalid_cron", "cron is required: a five-field cron expression such as "
                                       "\"*/5 * * * *\" or an @nickname such as \"@daily\"");
    spec.cron = c->get<std::string>();
    auto parsed = parse_cron(spec.cron);
    if (auto* e = std::get_if<std::string>(&parsed))
        return invalid("invalid_cron", "cron '" + spec.cron.substr(0, 100) + "': " + *e);
    return std::nullopt;
}

std::optional<ApiError> check_timezone(const json& j, ScheduleSpec& spec) {
    spec.timezone = "UTC";
    if (auto tz = j.find("timezone"); tz != j.end() && !tz->is_null()) {
        if (!tz->is_string() || !find_time_zone(tz->get<std::string>()))
            return invalid("invalid_timezone",
                           "timezone must be an IANA time zone name such as \"Europe/Berlin\" "
                           "or \"UTC\"" +
                               (tz->is_string()
                                    ? ", got '" + tz->get<std::string>().substr(0, 100) + "'"
                                    : std::string()));
        spec.timezone = tz->get<std::string>();
    }
    return std::nullopt;
}

std::optional<ApiError> check_job(const json& j, const HandlerRegistry& registry,
                                  ScheduleSpec& spec) {
    auto job = j.find("job");
    if (job == j.end() || !job->is_object())
        return invalid("invalid_job",
                       "job is required: the job each slot enqueues, as POST /jobs takes it");
    if (job->contains("run_at"))
        return invalid("unknown_field",
                       "job: a schedule's job has no run_at; its cron says when it runs");
    auto parsed = parse_job_object(*job, registry, "job: ");
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    spec.job = normalized(*job, std::get<NewJob>(parsed));
    return std::nullopt;
}

} // namespace

std::optional<ApiError> check_schedule_name(const std::string& name) {
    if (is_queue_name(name))
        return std::nullopt;
    return invalid("invalid_schedule_name",
                   "schedule name must be 1..64 of a-z, 0-9, _ . - starting with a letter or "
                   "digit");
}

std::variant<ScheduleSpec, ApiError>
parse_schedule(const std::string& name, const std::string& body, const HandlerRegistry& registry) {
    if (auto e = check_schedule_name(name))
        return *e;
    auto parsed = parse_json_body(body);
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    const json& j = std::get<json>(parsed);
    if (!j.is_object())
        return invalid("invalid_schedule",
                       "body must be an object with cron, job and optionally timezone, enabled");
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "cron" && it.key() != "timezone" && it.key() != "job" &&
            it.key() != "enabled")
            return invalid("unknown_field", "unknown field '" + it.key() +
                                                "'; a schedule has cron, timezone, job, enabled");
    ScheduleSpec spec;
    spec.name = name;
    if (auto e = check_cron(j, spec))
        return *e;
    if (auto e = check_timezone(j, spec))
        return *e;
    if (auto e = check_job(j, registry, spec))
        return *e;
    if (auto en = j.find("enabled"); en != j.end()) {
        if (!en->is_boolean())
            return invalid("invalid_enabled", "enabled must be true or false");
        spec.enabled = en->get<bool>();
    }
    // Valid fields can still describe a date that never comes (30 February).
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (!next_slot(std::get<CronExpr>(parse_cron(spec.cron)), find_time_zone(spec.timezone), now))
        return invalid("invalid_cron", "cron '" + spec.cron + "' matches no date that comes");
    return spec;
}

} // namespace conveyor
