// Cron expressions: parse_cron, and next_slot / latest_slot on what parses (they must end, and
// find real slots). Input: byte 0 picks a time zone, bytes 1-4 a start time (1970..2106), the rest
// is the expression.
#include "fuzz_util.hpp"
#include "model/cron.hpp"
#include "model/cron_schedule.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 5)
        return 0;
    static const char* zones[] = {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                  "Asia/Kathmandu"};
    const auto* zone = find_time_zone(zones[data[0] % 5]);
    FUZZ_ASSERT(zone != nullptr);
    std::int64_t after = (std::int64_t(data[1]) << 24) | (data[2] << 16) | (data[3] << 8) | data[4];
    auto parsed = parse_cron(fuzz::as_string(data + 5, size - 5));
    if (auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_ASSERT(!error->empty());
        return 0;
    }
    const auto& cron = std::get<CronExpr>(parsed);
    FUZZ_ASSERT(cron.minutes.any() && cron.hours.any() && cron.months.any());
    auto slot = next_slot(cron, zone, after);
    if (!slot)
        return 0;
    FUZZ_ASSERT(*slot > after);
    FUZZ_ASSERT(*slot % 60 == 0); // every offset since 1970 is whole minutes
    // A slot is its own successor's predecessor, and the latest slot up to itself.
    FUZZ_ASSERT(next_slot(cron, zone, *slot - 1) == slot);
    FUZZ_ASSERT(latest_slot(cron, zone, after, *slot) == slot);
    auto second = next_slot(cron, zone, *slot);
    FUZZ_ASSERT(!second || *second > *slot);
    return 0;
}
