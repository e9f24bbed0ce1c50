// The body of POST /jobs/cancel|retry|delete: parse_bulk_target never crashes, refuses with a
// 400/422 envelope, and what it accepts is exactly one of ids (1..kMaxBulkIds UUIDs) or a
// non-empty, valid filter.
#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"
#include "uuid.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parsed = parse_bulk_target(fuzz::as_string(data, size));
    if (auto* e = std::get_if<ApiError>(&parsed)) {
        FUZZ_ASSERT((e->status == 400 || e->status == 422) && !e->code.empty() &&
                    !e->message.empty());
        return 0;
    }
    const auto& t = std::get<ActionTarget>(parsed);
    FUZZ_ASSERT(t.ids.empty() == t.filter.has_value());
    FUZZ_ASSERT(t.ids.size() <= kMaxBulkIds);
    for (const auto& id : t.ids)
        FUZZ_ASSERT(is_uuid(id));
    if (t.filter) {
        FUZZ_ASSERT(!t.filter->statuses.empty() || !t.filter->queues.empty() ||
                    !t.filter->job_types.empty());
        for (const auto& q : t.filter->queues)
            FUZZ_ASSERT(is_queue_name(q));
        for (const auto& j : t.filter->job_types)
            FUZZ_ASSERT(!j.empty());
    }
    return 0;
}
