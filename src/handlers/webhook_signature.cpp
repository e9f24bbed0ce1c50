#include "handlers/webhook_signature.hpp"

#include <new>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace conveyor {

std::string standard_webhook_signature(const std::string& key, const std::string& id,
                                       long long timestamp, const std::string& body) {
    std::string content = id + "." + std::to_string(timestamp) + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac,
              &mac_len))
        throw std::runtime_error("HMAC-SHA256 failed");
    // EVP_EncodeBlock writes 4 characters per 3 bytes (padded) and a NUL.
    unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(encoded, mac, static_cast<int>(mac_len));
    return "v1," + std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

} // namespace conveyor
