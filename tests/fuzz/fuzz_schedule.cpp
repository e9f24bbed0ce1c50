// PUT /schedules/<name> bodies: parse_schedule with the built-in types. Input: the name, a
// newline, the body.
#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "handlers/registry.hpp"
#include "http/schedule_parsing.hpp"
#include "model/cron.hpp"
#include "model/cron_schedule.hpp"

using namespace conveyor;

namespace {
const HandlerRegistry& registry() {
    static const HandlerRegistry* r = [] {
        auto* reg = new HandlerRegistry;
        Config cfg;
        register_builtin_handlers(*reg, cfg);
        return reg;
    }();
    return *r;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto input = fuzz::as_string(data, size);
    auto nl = input.find('\n');
    std::string name = nl == std::string::npos ? "x" : input.substr(0, nl);
    std::string body = nl == std::string::npos ? input : input.substr(nl + 1);
    auto parsed = parse_schedule(name, body, registry());
    if (auto* e = std::get_if<ApiError>(&parsed)) {
        FUZZ_ASSERT(e->status == 400 || e->status == 422);
        FUZZ_ASSERT(!e->code.empty() && !e->message.empty());
        return 0;
    }
    // What is stored parses again: the name, the cron, the zone and the job.
    const auto& spec = std::get<ScheduleSpec>(parsed);
    FUZZ_ASSERT(is_queue_name(spec.name));
    FUZZ_ASSERT(std::holds_alternative<CronExpr>(parse_cron(spec.cron)));
    FUZZ_ASSERT(find_time_zone(spec.timezone) != nullptr);
    auto job = nlohmann::json::parse(spec.job, nullptr, false);
    FUZZ_ASSERT(job.is_object() && job["payload"].is_object());
    FUZZ_ASSERT(registry().find(job["job_type"].get<std::string>()) != nullptr);
    return 0;
}
