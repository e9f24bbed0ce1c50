// The Idempotency-Key header: parse_idempotency_key never crashes, refuses with a 400 naming the
// header, and what it accepts is 1..kMaxIdempotencyKey printable ASCII characters.
#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto parsed = parse_idempotency_key(fuzz::as_string(data, size));
    if (auto* e = std::get_if<ApiError>(&parsed)) {
        FUZZ_ASSERT(e->status == 400 && e->code == "invalid_idempotency_key" &&
                    e->message.rfind("Idempotency-Key ", 0) == 0);
        return 0;
    }
    const auto& key = std::get<std::string>(parsed);
    FUZZ_ASSERT(!key.empty() && key.size() <= kMaxIdempotencyKey && key.size() <= size);
    for (char c : key)
        FUZZ_ASSERT(c >= 0x20 && c <= 0x7e);
    return 0;
}
