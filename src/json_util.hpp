#pragma once
#include <string>

namespace conveyor {

// Error envelope of SPEC §4: {"error": {"code": ..., "message": ...}}.
std::string error_body(const std::string& code, const std::string& message);

// Deepest nesting of arrays/objects in a JSON text, counted without parsing it; used to refuse
// documents nested deeper than we are willing to parse.
int json_nesting_depth(const std::string& text);

} // namespace conveyor
