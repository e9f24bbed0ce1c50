#include "engine/slot_book.hpp"

#include <algorithm>

namespace conveyor {

SlotBook::CancelFlag SlotBook::take(AttemptRef attempt, std::string queue,
                                    clock::time_point deadline) {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    running_.push_back(Slot{std::move(attempt), std::move(queue), deadline, flag, false});
    return flag;
}

bool SlotBook::cancel(const std::string& id) {
    bool found = false;
    for (auto& s : running_)
        if (s.attempt.id == id) {
            s.cancel->store(true);
            found = true;
        }
    return found;
}

int SlotBook::running_in(const std::string& queue) const {
    return static_cast<int>(std::count_if(running_.begin(), running_.end(),
                                          [&](const Slot& s) { return s.queue == queue; }));
}

std::optional<std::string> SlotBook::release(const AttemptRef& attempt) {
    auto it = std::find_if(running_.begin(), running_.end(),
                           [&](const Slot& s) { return s.attempt == attempt; });
    if (it == running_.end())
        return std::nullopt;
    auto queue = std::move(it->queue);
    *it = std::move(running_.back());
    running_.pop_back();
    return queue;
}

std::optional<std::string> SlotBook::queue_of(const AttemptRef& attempt) const {
    for (const auto& s : running_)
        if (s.attempt == attempt)
            return s.queue;
    return std::nullopt;
}

std::vector<AttemptRef> SlotBook::overdue(clock::time_point now) {
    std::vector<AttemptRef> out;
    for (auto& s : running_)
        if (!s.overdue && now >= s.deadline) {
            s.overdue = true;
            out.push_back(s.attempt);
        }
    return out;
}

std::vector<std::string> SlotBook::job_ids() const {
    std::vector<std::string> ids;
    ids.reserve(running_.size());
    for (const auto& s : running_)
        ids.push_back(s.attempt.id);
    return ids;
}

std::vector<AttemptRef> SlotBook::attempts() const {
    std::vector<AttemptRef> out;
    out.reserve(running_.size());
    for (const auto& s : running_)
        out.push_back(s.attempt);
    return out;
}

} // namespace conveyor
