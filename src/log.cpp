#include "log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace conveyor::log {

namespace {
std::atomic<int> current{static_cast<int>(LogLevel::info)};
std::atomic<int> current_format{static_cast<int>(LogFormat::text)};

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

// RFC 3339 UTC with milliseconds, as the API renders timestamps.
std::string timestamp(std::chrono::system_clock::time_point when) {
    auto t = std::chrono::system_clock::to_time_t(when);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() %
        1000;
    if (ms < 0)
        ms += 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
    return std::string(ts) + frac;
}
} // namespace

void set_level(LogLevel level) {
    current = static_cast<int>(level);
}
void set_format(LogFormat format) {
    current_format = static_cast<int>(format);
}
bool enabled(LogLevel level) {
    return static_cast<int>(level) >= current.load();
}

std::string format_line(LogFormat format, std::chrono::system_clock::time_point when,
                        LogLevel level, const char* component, const std::string& message) {
    if (format == LogFormat::json) {
        nlohmann::ordered_json line = {{"ts", timestamp(when)},
                                       {"level", name(level)},
                                       {"component", component},
                                       {"msg", message}};
        // Invalid UTF-8 in a message (a remote server's reply) becomes U+FFFD instead of
        // throwing; control characters, newlines included, are escaped, so one event stays one
        // line.
        return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    std::string line;
    line.reserve(message.size() + 64);
    line += timestamp(when);
    line += ' ';
    line += name(level);
    line += ' ';
    line += component;
    line += ": ";
    for (char ch : message)
        line += (ch == '\n' || ch == '\r') ? ' ' : ch;
    line += '\n';
    return line;
}

void write(LogLevel level, const char* component, const std::string& message) {
    if (!enabled(level))
        return;
    std::string line = format_line(static_cast<LogFormat>(current_format.load()),
                                   std::chrono::system_clock::now(), level, component, message);
    // One fwrite per line keeps lines whole when threads log at once.
    std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace conveyor::log
