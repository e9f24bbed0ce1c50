#pragma once
// Memory of a process, from /proc/<pid>/status.
#include <cstdio>
#include <string>

namespace testsupport {

// A field of /proc/<pid>/status in KiB ("VmRSS": now, "VmHWM": the most ever held); -1 if unknown.
inline long proc_status_kb(int pid, const std::string& field) {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    if (!f)
        return -1;
    long kb = -1;
    char line[256];
    while (std::fgets(line, sizeof line, f))
        if (std::string(line).rfind(field + ":", 0) == 0)
            kb = std::stol(std::string(line).substr(field.size() + 1));
    std::fclose(f);
    return kb;
}

inline long rss_kb(int pid) {
    return proc_status_kb(pid, "VmRSS");
}
inline long peak_rss_kb(int pid) {
    return proc_status_kb(pid, "VmHWM");
}

} // namespace testsupport
