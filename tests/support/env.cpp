#include "support/env.hpp"

#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace testsupport {

std::string env_or_fail(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v)
        throw std::runtime_error(std::string(name) +
                                 " is not set: run the tests through ./scripts/test");
    return v;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() >= end)
            return false;
        std::this_thread::sleep_for(step);
    }
}

} // namespace testsupport
