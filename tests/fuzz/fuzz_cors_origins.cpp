// CORS_ALLOWED_ORIGINS and the Origin header: parse_cors_origins and cors_allow_origin.
// Input: the setting's text, then a NUL, then an Origin header value.
#include "fuzz_util.hpp"
#include "http/cors.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string input = fuzz::as_string(data, size);
    auto nul = input.find('\0');
    std::string setting = input.substr(0, nul);
    std::string origin = nul == std::string::npos ? std::string() : input.substr(nul + 1);
    auto parsed = parse_cors_origins(setting);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_ASSERT(!error->empty());
        return 0;
    }
    const auto& policy = std::get<CorsPolicy>(parsed);
    FUZZ_ASSERT(policy.enabled());
    for (const auto& o : policy.origins) {
        // Canonical: lower case, scheme://host, no path, no spaces; each allows itself.
        FUZZ_ASSERT(o.find("://") != std::string::npos);
        for (char c : o)
            FUZZ_ASSERT(!(c >= 'A' && c <= 'Z') && c != ' ' && c != ',' && c != '\0');
        FUZZ_ASSERT(o.find('/', o.find("://") + 3) == std::string::npos);
        FUZZ_ASSERT(cors_allow_origin(policy, o).has_value());
    }
    auto allowed = cors_allow_origin(policy, origin);
    if (allowed) {
        // The answer is the request's own origin, or * — never another listed origin.
        FUZZ_ASSERT(*allowed == origin || (policy.any && *allowed == "*"));
        FUZZ_ASSERT(!origin.empty());
    }
    return 0;
}
