#include "http/fingerprint.hpp"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace conveyor {

std::string request_fingerprint(const std::string& method, const std::string& path,
                                const std::string& body) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    // NUL separators: no method/path/body split can hash like another.
    if (!ctx || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) ||
        !EVP_DigestUpdate(ctx.get(), method.data(), method.size()) ||
        !EVP_DigestUpdate(ctx.get(), "", 1) ||
        !EVP_DigestUpdate(ctx.get(), path.data(), path.size()) ||
        !EVP_DigestUpdate(ctx.get(), "", 1) ||
        !EVP_DigestUpdate(ctx.get(), body.data(), body.size()) ||
        !EVP_DigestFinal_ex(ctx.get(), digest, &size))
        throw std::runtime_error("SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

} // namespace conveyor
