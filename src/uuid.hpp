#pragma once
#include <string>

namespace conveyor {

// A UUIDv7 (time-ordered, RFC 9562): ids made close in time sit close in the primary key index.
std::string new_uuid_v7();

// True for the canonical 8-4-4-4-12 hexadecimal form.
bool is_uuid(const std::string& s);

} // namespace conveyor
