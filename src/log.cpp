#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace conveyor::log {

namespace {
std::atomic<int> current{static_cast<int>(LogLevel::info)};
const char* name(LogLevel l) {
    switch (l) {
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warn:
        return "warn";
    case LogLevel::error:
        return "error";
    }
    return "?";
}
} // namespace

void set_level(LogLevel level) {
    current = static_cast<int>(level);
}
bool enabled(LogLevel level) {
    return static_cast<int>(level) >= current.load();
}

void write(LogLevel level, const char* component, const std::string& message) {
    if (!enabled(level))
        return;
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line;
    line.reserve(message.size() + 64);
    line += ts;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms));
    line += frac;
    line += name(level);
    line += ' ';
    line += component;
    line += ": ";
    for (char ch : message)
        line += (ch == '\n' || ch == '\r') ? ' ' : ch;
    line += '\n';
    // One fwrite per line keeps lines whole when threads log at once.
    std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace conveyor::log
