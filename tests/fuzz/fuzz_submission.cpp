// POST /jobs and POST /jobs/batch bodies: parse_submission and parse_batch with the built-in types.
#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "handlers/registry.hpp"
#include "http/request_parsing.hpp"
#include "json_util.hpp"
#include "uuid.hpp"

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

void check_job(const NewJob& job) {
    FUZZ_ASSERT(is_uuid(job.id));
    FUZZ_ASSERT(registry().find(job.job_type) != nullptr);
    FUZZ_ASSERT(job.max_attempts >= 1 && job.max_attempts <= 100);
    if (job.run_at)
        FUZZ_ASSERT(is_rfc3339(*job.run_at));
    // What goes to the database is one JSON object that the handler accepts again at run time.
    auto payload = nlohmann::json::parse(job.payload, nullptr, false);
    FUZZ_ASSERT(payload.is_object());
    FUZZ_ASSERT(!registry().find(job.job_type)->validate(payload));
}

void check_error(const ApiError& e) {
    FUZZ_ASSERT(e.status == 400 || e.status == 422);
    FUZZ_ASSERT(!e.code.empty() && !e.message.empty());
    // The error envelope is always valid JSON, whatever the message quotes from the input.
    auto body = nlohmann::json::parse(error_body(e.code, e.message), nullptr, false);
    FUZZ_ASSERT(body.is_object());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string body = fuzz::as_string(data, size);
    auto one = parse_submission(body, registry());
    if (auto* job = std::get_if<NewJob>(&one))
        check_job(*job);
    else
        check_error(std::get<ApiError>(one));

    auto many = parse_batch(body, registry());
    if (auto* jobs = std::get_if<std::vector<NewJob>>(&many)) {
        FUZZ_ASSERT(!jobs->empty() && jobs->size() <= kMaxBatch);
        for (const auto& job : *jobs)
            check_job(job);
    } else {
        check_error(std::get<ApiError>(many));
    }
    return 0;
}
