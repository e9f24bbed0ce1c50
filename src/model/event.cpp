#include "model/event.hpp"

#include "json_util.hpp"

namespace conveyor {

std::string sse_frame(std::uint64_t id, const std::string& data, const std::string& kind) {
    std::string f;
    f.reserve(data.size() + 40);
    f += "id: ";
    f += std::to_string(id);
    f += "\nevent: ";
    f += kind;
    f += "\ndata: ";
    f += compact_json(data); // one line: JSON escapes newlines
    f += "\n\n";
    return f;
}

} // namespace conveyor
