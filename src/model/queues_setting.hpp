#pragma once
// QUEUES (SPEC §2, §8): which queues a process works, and a local cap for some of them.
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace conveyor {

struct QueueCap {
    std::string name;
    std::optional<int> cap; // none: shares what the capped queues leave
    bool operator==(const QueueCap& o) const { return name == o.name && cap == o.cap; }
};

// "*" (every queue: an empty list) or "mail:5,default:10,reports". Caps are ≥ 1 and together at
// most `worker_concurrency`; names are queue names and appear once. Returns the list or a message
// saying what is wrong.
std::variant<std::vector<QueueCap>, std::string> parse_queues_setting(const std::string& text,
                                                                      int worker_concurrency);

} // namespace conveyor
