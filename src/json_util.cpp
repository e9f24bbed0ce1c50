#include "json_util.hpp"

#include <nlohmann/json.hpp>

namespace conveyor {

std::string error_body(const std::string& code, const std::string& message) {
    nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int json_nesting_depth(const std::string& text) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            deepest = std::max(deepest, ++depth);
        else if (c == '}' || c == ']')
            --depth;
    }
    return deepest;
}

} // namespace conveyor
