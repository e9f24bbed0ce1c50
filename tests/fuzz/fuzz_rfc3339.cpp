// `run_at`: is_rfc3339 on any text; what it accepts has the RFC 3339 shape and a real date.
#include <cctype>
#include <cstdio>
#include <cstring>

#include "fuzz_util.hpp"
#include "http/request_parsing.hpp"

using namespace conveyor;

namespace {
int num(const std::string& s, size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i)
        v = v * 10 + (s[i] - '0');
    return v;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s = fuzz::as_string(data, size);
    if (!is_rfc3339(s))
        return 0;
    FUZZ_ASSERT(s.size() >= 20 && s.size() <= 40);
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
        FUZZ_ASSERT(std::isdigit(static_cast<unsigned char>(s[i])));
    FUZZ_ASSERT(s[4] == '-' && s[7] == '-' && s[13] == ':' && s[16] == ':');
    FUZZ_ASSERT(s[10] == 'T' || s[10] == 't' || s[10] == ' ');
    for (unsigned char c : s)
        FUZZ_ASSERT(std::isdigit(c) || std::strchr("-:.+TtZz ", c));
    int year = num(s, 0, 4), month = num(s, 5, 2), day = num(s, 8, 2);
    FUZZ_ASSERT(year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31);
    FUZZ_ASSERT(num(s, 11, 2) <= 23 && num(s, 14, 2) <= 59 && num(s, 17, 2) <= 59);
    // Gregorian leap years: divisible by 4, except centuries not divisible by 400.
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2)
        FUZZ_ASSERT(day <= (leap ? 29 : 28));
    if (month == 4 || month == 6 || month == 9 || month == 11)
        FUZZ_ASSERT(day <= 30);
    // The same date in a leap year and in the common year after it: Feb 29 only in the first.
    if (month == 2 && day == 29 && year < 9999) {
        std::string common = s;
        char next[8];
        std::snprintf(next, sizeof next, "%04d", year + 1);
        common.replace(0, 4, next);
        bool next_leap = ((year + 1) % 4 == 0 && (year + 1) % 100 != 0) || (year + 1) % 400 == 0;
        FUZZ_ASSERT(is_rfc3339(common) == next_leap);
    }
    char last = s.back();
    FUZZ_ASSERT(last == 'Z' || last == 'z' || std::isdigit(static_cast<unsigned char>(last)));
    return 0;
}
