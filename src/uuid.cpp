#include "uuid.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <sys/random.h>

namespace conveyor {

namespace {
// Milliseconds since the epoch (48 bits) and a 12-bit counter, as one number: every id this
// process makes is greater than the one before, also within one millisecond (RFC 9562 §6.2,
// method 1). A counter that runs over borrows from the next millisecond, as §6.2 allows.
std::atomic<uint64_t> last_stamp{0};

uint64_t next_stamp() {
    uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    uint64_t prev = last_stamp.load(std::memory_order_relaxed);
    uint64_t next;
    do {
        next = std::max(ms << 12, prev + 1);
    } while (!last_stamp.compare_exchange_weak(prev, next, std::memory_order_relaxed));
    return next;
}

// Random bits come from the kernel's CSPRNG: ids are handed to clients, so they must not be
// guessable from each other (mt19937_64 seeded with 32 bits was: one id gives away the rest).
// A per-thread buffer keeps it to one getrandom() call per 64 ids.
uint64_t random_u64() {
    constexpr std::size_t kWords = 64;
    thread_local uint64_t pool[kWords];
    thread_local std::size_t left = 0;
    if (left == 0) {
        auto* at = reinterpret_cast<unsigned char*>(pool);
        std::size_t need = sizeof pool;
        while (need > 0) {
            ssize_t got = getrandom(at, need, 0);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
            }
            at += got;
            need -= static_cast<std::size_t>(got);
        }
        left = kWords;
    }
    uint64_t r = pool[--left];
    pool[left] = 0; // a used value does not stay in memory
    return r;
}
} // namespace

std::string new_uuid_v7() {
    uint64_t stamp = next_stamp();
    uint64_t ms = stamp >> 12, counter = stamp & 0xfff;
    uint64_t r = random_u64();
    unsigned char b[16];
    for (int i = 0; i < 6; ++i)
        b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    b[6] = static_cast<unsigned char>(0x70 | (counter >> 8)); // version 7, counter's high bits
    b[7] = static_cast<unsigned char>(counter & 0xff);
    for (int i = 8; i < 16; ++i)
        b[i] = static_cast<unsigned char>(r >> (8 * (i - 8)));
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f)); // variant 10
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += '-';
        out += hex[b[i] >> 4];
        out += hex[b[i] & 0xf];
    }
    return out;
}

bool is_uuid(const std::string& s) {
    if (s.size() != 36)
        return false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

} // namespace conveyor
