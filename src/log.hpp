#pragma once
// One line per event on stderr. LOG_FORMAT=text (default): `<time> <level> <component>: <message>`;
// LOG_FORMAT=json: `{"ts":"<time>","level":"<level>","component":"<component>","msg":"<message>"}`.
#include <chrono>
#include <string>

#include "config.hpp"

namespace conveyor::log {

void set_level(LogLevel level);
void set_format(LogFormat format);
bool enabled(LogLevel level);
void write(LogLevel level, const char* component, const std::string& message);

// The line write() prints (with its trailing newline), for tests.
std::string format_line(LogFormat format, std::chrono::system_clock::time_point when,
                        LogLevel level, const char* component, const std::string& message);

inline void debug(const char* c, const std::string& m) {
    if (enabled(LogLevel::debug))
        write(LogLevel::debug, c, m);
}
inline void info(const char* c, const std::string& m) {
    write(LogLevel::info, c, m);
}
inline void warn(const char* c, const std::string& m) {
    write(LogLevel::warn, c, m);
}
inline void error(const char* c, const std::string& m) {
    write(LogLevel::error, c, m);
}

} // namespace conveyor::log
