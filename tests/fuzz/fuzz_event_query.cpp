// GET /events: query filters (parse_event_query) and the Last-Event-ID header
// (parse_last_event_id). Input: the header value, a '\n', then parameters as in fuzz_util.hpp.
#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"
#include "uuid.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::as_string(data, size);
    auto nl = s.find('\n');
    std::string header = s.substr(0, nl);
    std::string query = nl == std::string::npos ? std::string() : s.substr(nl + 1);

    if (auto id = parse_last_event_id(header)) {
        // Only plain decimal digits, and the value is exactly what they say.
        FUZZ_ASSERT(!header.empty() && header.size() <= 19);
        FUZZ_ASSERT(header.find_first_not_of("0123456789") == std::string::npos);
        std::string printed = std::to_string(*id);
        size_t first = header.find_first_not_of('0');
        FUZZ_ASSERT(printed == (first == std::string::npos ? "0" : header.substr(first)));
    }

    auto f = parse_event_query(fuzz::query_params(query));
    if (auto* e = std::get_if<ApiError>(&f)) {
        FUZZ_ASSERT(e->status == 400 && e->code == "invalid_query" && !e->message.empty());
        return 0;
    }
    const auto& filter = std::get<EventFilter>(f);
    for (const auto& id : filter.job_ids) {
        FUZZ_ASSERT(is_uuid(id));
        FUZZ_ASSERT(id.find_first_of("ABCDEF") == std::string::npos);
    }
    for (const auto& t : filter.job_types)
        FUZZ_ASSERT(!t.empty());
    for (auto st : filter.statuses)
        FUZZ_ASSERT(parse_job_status(to_string(st)) == st);
    return 0;
}
