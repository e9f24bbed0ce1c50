// json_nesting_depth, the guard in front of the JSON parser: it must never under-count the
// nesting of a document that nlohmann::json accepts (else deep documents reach recursive code),
// and it counts exactly for documents without NUL bytes (nlohmann stops reading at a NUL byte,
// while the guard counts what follows it too: over-counting is the safe direction).
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "json_util.hpp"

namespace {

// Iterative, so that it is safe on any depth.
int real_depth(const nlohmann::json& root) {
    int deepest = 0;
    std::vector<std::pair<const nlohmann::json*, int>> todo{{&root, 0}};
    while (!todo.empty()) {
        auto [j, d] = todo.back();
        todo.pop_back();
        if (!j->is_structured())
            continue;
        deepest = std::max(deepest, d + 1);
        for (const auto& child : *j)
            todo.push_back({&child, d + 1});
    }
    return deepest;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::as_string(data, size);
    int counted = conveyor::json_nesting_depth(s);
    FUZZ_ASSERT(counted >= 0);
    // nlohmann's parser keeps its own stack, so parsing a deep document is safe here.
    auto j = nlohmann::json::parse(s, nullptr, false);
    if (!j.is_discarded()) {
        int real = real_depth(j);
        FUZZ_ASSERT(counted >= real);
        if (s.find('\0') == std::string::npos)
            FUZZ_ASSERT(counted == real);
    }
    return 0;
}
