// GET /jobs query parameters: parse_list_query, and next_page_query of what it accepts.
// Input: parameters separated by '\n', each "key=value" (already percent-decoded).
#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"
#include "uuid.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto params = fuzz::query_params(fuzz::as_string(data, size));
    auto q = parse_list_query(params);
    if (auto* e = std::get_if<ApiError>(&q)) {
        FUZZ_ASSERT(e->status == 400 && e->code == "invalid_query" && !e->message.empty());
        return 0;
    }
    const auto& query = std::get<ListQuery>(q);
    FUZZ_ASSERT(query.limit >= 1 && query.limit <= 1000);
    for (auto s : query.statuses)
        FUZZ_ASSERT(parse_job_status(to_string(s)) == s);
    for (const auto& t : query.job_types)
        FUZZ_ASSERT(!t.empty());
    if (query.cursor)
        FUZZ_ASSERT(is_uuid(query.cursor->id) && query.cursor->created_us >= 0);

    // The `next` link only holds URL-safe characters and carries a cursor that decodes again.
    Cursor next = query.cursor.value_or(Cursor{1, "01a21663-bcf9-7563-b322-1fbe79dbc39a"});
    std::string link = next_page_query(query, next);
    for (unsigned char c : link)
        FUZZ_ASSERT(c > 0x20 && c < 0x7F && c != '#' && c != '<' && c != '>' && c != '"');
    auto at = link.find("cursor=");
    FUZZ_ASSERT(at != std::string::npos);
    std::string encoded = link.substr(at + 7);
    FUZZ_ASSERT(encoded == url_encode(encode_cursor(next)));
    auto back = decode_cursor(encode_cursor(next));
    FUZZ_ASSERT(back && back->created_us == next.created_us && back->id == next.id);
    return 0;
}
