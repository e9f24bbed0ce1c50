// GET /jobs `cursor`: decode_cursor on any text, and the encode/decode round trip.
#include <cstring>

#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"
#include "uuid.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::as_string(data, size);
    if (auto c = decode_cursor(s)) {
        FUZZ_ASSERT(c->created_us >= 0);
        FUZZ_ASSERT(is_uuid(c->id));
        std::string again = encode_cursor(*c);
        auto back = decode_cursor(again);
        FUZZ_ASSERT(back && back->created_us == c->created_us && back->id == c->id);
        FUZZ_ASSERT(encode_cursor(*back) == again);
    }
    // Any non-negative position and any UUID round-trip (the server only makes those).
    if (size >= 8 + 16) {
        long long us;
        std::memcpy(&us, data, sizeof us);
        if (us < 0)
            us = -(us + 1);
        us %= 1000000000000000000LL; // created_at in µs: 18 digits reach past the year 30000
        static const char* hex = "0123456789abcdef";
        std::string id;
        for (size_t i = 0; i < 16; ++i) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                id += '-';
            id += hex[data[8 + i] >> 4];
            id += hex[data[8 + i] & 15];
        }
        Cursor c{us, id};
        auto back = decode_cursor(encode_cursor(c));
        FUZZ_ASSERT(back && back->created_us == c.created_us && back->id == c.id);
    }
    return 0;
}
