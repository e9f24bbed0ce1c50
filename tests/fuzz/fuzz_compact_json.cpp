// compact_json, which every job, queue and event text passes through on its way out: it never
// grows a text, is idempotent, and leaves a valid document meaning the same (strings untouched).
#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "json_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::as_string(data, size);
    std::string once = conveyor::compact_json(s);
    FUZZ_ASSERT(once.size() <= s.size());
    FUZZ_ASSERT(conveyor::compact_json(once) == once);
    if (s.find('\0') != std::string::npos) // nlohmann stops reading at a NUL byte
        return 0;
    auto before = nlohmann::json::parse(s, nullptr, false);
    if (!before.is_discarded()) {
        auto after = nlohmann::json::parse(once, nullptr, false);
        FUZZ_ASSERT(!after.is_discarded());
        FUZZ_ASSERT(after == before);
    }
    return 0;
}
