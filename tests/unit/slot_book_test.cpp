#include <catch2/catch.hpp>

#include "engine/slot_book.hpp"

using namespace conveyor;
using clock_type = SlotBook::clock;

TEST_CASE("slot book: free slots shrink as attempts start and grow as they are released") {
    SlotBook slots(2);
    auto now = clock_type::now();
    CHECK(slots.free() == 2);
    slots.take({"a", 1}, "default", now);
    slots.take({"b", 1}, "default", now);
    CHECK(slots.free() == 0);
    CHECK(slots.release({"a", 1}) == std::optional<std::string>("default"));
    CHECK(slots.free() == 1);
    CHECK_FALSE(slots.release({"a", 1})); // released once only
    CHECK_FALSE(slots.release({"b", 2})); // another attempt of b holds no slot
    CHECK(slots.free() == 1);
}

TEST_CASE("slot book: a timed-out attempt keeps its slot beside the job's next attempt") {
    SlotBook slots(3);
    auto now = clock_type::now();
    slots.take({"a", 1}, "default", now);
    slots.take({"a", 2}, "default", now + std::chrono::seconds(10));
    CHECK(slots.free() == 1);
    CHECK(slots.job_ids() == std::vector<std::string>{"a", "a"});
    CHECK(slots.release({"a", 2}));
    CHECK(slots.attempts() == std::vector<AttemptRef>{{"a", 1}});
}

TEST_CASE("slot book: overdue attempts are reported once and keep their slots") {
    SlotBook slots(2);
    auto now = clock_type::now();
    slots.take({"late", 1}, "default", now - std::chrono::milliseconds(1));
    slots.take({"fine", 1}, "default", now + std::chrono::seconds(60));
    CHECK(slots.overdue(now) == std::vector<AttemptRef>{{"late", 1}});
    CHECK(slots.overdue(now).empty());
    CHECK(slots.free() == 0);
    CHECK(slots.overdue(now + std::chrono::seconds(61)) == std::vector<AttemptRef>{{"fine", 1}});
}

TEST_CASE("slot book: counts the slots each queue holds") {
    SlotBook slots(4);
    auto now = clock_type::now();
    slots.take({"a", 1}, "mail", now);
    slots.take({"b", 1}, "mail", now);
    slots.take({"c", 1}, "reports", now);
    CHECK(slots.running_in("mail") == 2);
    CHECK(slots.running_in("reports") == 1);
    CHECK(slots.running_in("default") == 0);
    slots.release({"a", 1});
    CHECK(slots.running_in("mail") == 1);
}
