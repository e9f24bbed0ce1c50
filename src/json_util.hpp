#pragma once
#include <string>

namespace conveyor {

// Error envelope of SPEC §4: {"error": {"code": ..., "message": ...}}.
std::string error_body(const std::string& code, const std::string& message);

// Deepest nesting of arrays/objects in a JSON text, counted without parsing it; used to refuse
// documents nested deeper than we are willing to parse.
int json_nesting_depth(const std::string& text);

// The same JSON text without whitespace between tokens. PostgreSQL renders json and jsonb with
// spaces after ':' and ','; the API answers compact JSON (README), so texts built by the
// database pass through here. Linear, and it never parses: strings are copied untouched.
std::string compact_json(std::string text);

} // namespace conveyor
