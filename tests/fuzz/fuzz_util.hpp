#pragma once
// Helpers shared by the fuzz targets (header-only; each target is one .cpp).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace fuzz {

// Fails the run (libFuzzer records the input) when a property does not hold.
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

inline std::string as_string(const uint8_t* data, size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

// Splits "k1=v1\nk2=v2..." into a map, as the HTTP layer does after percent-decoding (so the
// parsers see any byte, including '&', '=' and NUL, through the keys and values). A repeated key
// keeps its first value; the server answers 400 for it before the parsers run.
inline std::map<std::string, std::string> query_params(const std::string& s) {
    std::map<std::string, std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t nl = s.find('\n', start);
        std::string item =
            s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        size_t eq = item.find('=');
        std::string key = item.substr(0, eq);
        std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
        out.emplace(key, value);
        if (nl == std::string::npos)
            break;
        start = nl + 1;
    }
    return out;
}

} // namespace fuzz
