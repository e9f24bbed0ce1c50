// QUEUES (the setting) and queue names: parse_queues_setting and is_queue_name.
// Input: the first byte is WORKER_CONCURRENCY (1..256), the rest the setting's text.
#include "fuzz_util.hpp"
#include "model/job.hpp"
#include "model/queues_setting.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    int concurrency = data[0] + 1;
    std::string text = fuzz::as_string(data + 1, size - 1);
    auto parsed = parse_queues_setting(text, concurrency);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_ASSERT(!error->empty());
        return 0;
    }
    const auto& queues = std::get<std::vector<QueueCap>>(parsed);
    FUZZ_ASSERT(queues.empty() == (text == "*"));
    long total = 0;
    std::string rebuilt;
    for (size_t i = 0; i < queues.size(); ++i) {
        const auto& q = queues[i];
        // Every accepted name is a queue name: 1..64 of [a-z0-9_.-], starting [a-z0-9].
        FUZZ_ASSERT(is_queue_name(q.name));
        FUZZ_ASSERT(q.name.size() >= 1 && q.name.size() <= 64);
        for (char c : q.name)
            FUZZ_ASSERT((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                        c == '-');
        for (size_t k = 0; k < i; ++k)
            FUZZ_ASSERT(queues[k].name != q.name);
        if (q.cap) {
            FUZZ_ASSERT(*q.cap >= 1);
            total += *q.cap;
        }
        rebuilt += (i ? "," : "") + q.name + (q.cap ? ":" + std::to_string(*q.cap) : "");
    }
    FUZZ_ASSERT(total <= concurrency);
    // What was accepted prints back to an equivalent setting.
    if (!queues.empty()) {
        auto again = parse_queues_setting(rebuilt, concurrency);
        FUZZ_ASSERT(std::holds_alternative<std::vector<QueueCap>>(again));
        FUZZ_ASSERT(std::get<std::vector<QueueCap>>(again) == queues);
    }
    return 0;
}
