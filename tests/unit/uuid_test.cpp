#include <catch2/catch.hpp>

#include <bitset>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "uuid.hpp"

using namespace conveyor;

namespace {
// The 62 random bits of a UUIDv7 (everything after the variant), as hexadecimal text.
std::string random_part(const std::string& id) {
    return id.substr(19);
}
} // namespace

TEST_CASE("Job ids stay monotonic within a process, across threads") {
    constexpr int kPerThread = 20000;
    std::vector<std::vector<std::string>> made(4);
    std::vector<std::thread> threads;
    for (auto& out : made)
        threads.emplace_back([&out] {
            for (int i = 0; i < kPerThread; ++i)
                out.push_back(new_uuid_v7());
        });
    for (auto& t : threads)
        t.join();
    std::set<std::string> all;
    for (const auto& out : made) {
        for (size_t i = 1; i < out.size(); ++i)
            REQUIRE(out[i - 1] < out[i]);
        all.insert(out.begin(), out.end());
    }
    CHECK(all.size() == 4 * kPerThread);
    for (const auto& id : all) {
        REQUIRE(is_uuid(id));
        REQUIRE(id[14] == '7');
        REQUIRE(std::string("89ab").find(id[19]) != std::string::npos);
    }
}

TEST_CASE("Job ids carry random bits that are all used and never repeat") {
    constexpr int kIds = 20000;
    std::set<std::string> tails;
    std::vector<int> ones(64, 0);
    for (int i = 0; i < kIds; ++i) {
        auto id = new_uuid_v7();
        tails.insert(random_part(id));
        std::string hex = id.substr(19, 4) + id.substr(24);
        auto bits = std::stoull(hex, nullptr, 16);
        for (int b = 0; b < 62; ++b)
            ones[static_cast<size_t>(b)] += static_cast<int>((bits >> b) & 1);
    }
    // 62 random bits: a repeat among 20,000 would be a broken source, not bad luck.
    CHECK(tails.size() == kIds);
    // Each bit is set about half the time (binomial, sd ~71): far outside ±1,000 only if stuck.
    for (int b = 0; b < 62; ++b) {
        INFO("bit " << b);
        CHECK(ones[static_cast<size_t>(b)] > kIds / 2 - 1000);
        CHECK(ones[static_cast<size_t>(b)] < kIds / 2 + 1000);
    }
}
