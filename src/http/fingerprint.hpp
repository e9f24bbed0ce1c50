#pragma once
#include <string>

namespace conveyor {

// What makes two requests "the same" for an Idempotency-Key: method, path and the body byte for
// byte, as SHA-256 in hex.
std::string request_fingerprint(const std::string& method, const std::string& path,
                                const std::string& body);

} // namespace conveyor
