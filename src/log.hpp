#pragma once
// One line per event on stderr: `<time> <level> <component>: <message>`.
#include <string>

#include "config.hpp"

namespace conveyor::log {

void set_level(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, const char* component, const std::string& message);

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
