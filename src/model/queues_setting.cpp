#include "model/queues_setting.hpp"

#include <cctype>

#include "model/job.hpp"

namespace conveyor {

std::variant<std::vector<QueueCap>, std::string> parse_queues_setting(const std::string& text,
                                                                      int worker_concurrency) {
    std::vector<QueueCap> out;
    if (text == "*")
        return out;
    if (text.empty())
        return std::string("empty; use * for every queue, or a list such as mail:5,default");
    long total = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        QueueCap q;
        auto colon = item.find(':');
        q.name = item.substr(0, colon);
        if (!is_queue_name(q.name))
            return "'" + q.name + "' is not a queue name ([a-z0-9][a-z0-9_.-]{0,63})";
        if (colon != std::string::npos) {
            std::string cap = item.substr(colon + 1);
            bool digits = !cap.empty() && cap.size() <= 6;
            for (char c : cap)
                digits = digits && std::isdigit(static_cast<unsigned char>(c));
            if (!digits || std::stol(cap) < 1)
                return "the cap of queue '" + q.name + "' must be an integer >= 1, got '" + cap +
                       "'";
            q.cap = static_cast<int>(std::stol(cap));
            total += *q.cap;
        }
        for (const auto& seen : out)
            if (seen.name == q.name)
                return "queue '" + q.name + "' is listed twice";
        out.push_back(std::move(q));
    }
    if (total > worker_concurrency)
        return "the caps add up to " + std::to_string(total) +
               ", more than WORKER_CONCURRENCY=" + std::to_string(worker_concurrency);
    return out;
}

} // namespace conveyor
