#include <catch2/catch.hpp>

#include "net/address_policy.hpp"

using namespace conveyor;

namespace {
IpAddress ip(const std::string& s) {
    auto a = parse_ip(s);
    REQUIRE(a);
    return *a;
}
AllowList list(const std::string& s) {
    auto r = parse_allow_list(s);
    INFO(s);
    REQUIRE(std::holds_alternative<AllowList>(r));
    return std::get<AllowList>(r);
}
std::string error_of(const std::string& s) {
    auto r = parse_allow_list(s);
    INFO(s);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
}
} // namespace

TEST_CASE("address rules: IPv4-mapped and NAT64 spellings are their IPv4 address") {
    CHECK(ip("::ffff:169.254.169.254").text() == "169.254.169.254");
    CHECK(ip("[::ffff:a9fe:a9fe]").text() == "169.254.169.254");
    CHECK(ip("64:ff9b::a9fe:a9fe").text() == "169.254.169.254");
    CHECK_FALSE(ip("::1").text() == "0.0.0.1");
    CHECK_FALSE(parse_ip("2852039166")); // libcurl normalises numeric hosts before we see them
    CHECK_FALSE(parse_ip("fe80::1%eth0"));
    CHECK_FALSE(parse_ip("[1.2.3.4]"));
}

TEST_CASE("address rules: link-local, metadata and unspecified are always refused") {
    for (auto a : {"169.254.169.254", "169.254.0.1", "100.100.100.200", "0.0.0.0", "::", "fe80::1",
                   "fd00:ec2::254", "::ffff:169.254.169.254", "224.0.0.1", "255.255.255.255"}) {
        INFO(a);
        CHECK(refused_address(ip(a), false));
    }
    for (auto a : {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "::1",
                   "fd12::1", "8.8.8.8", "2001:db8::1", "100.100.100.201", "172.32.0.1"}) {
        INFO(a);
        CHECK_FALSE(refused_address(ip(a), false));
    }
}

TEST_CASE("address rules: WEBHOOK_DENY_PRIVATE adds loopback, RFC 1918, CGNAT and ULA") {
    for (auto a :
         {"127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1",
          "100.64.0.1", "100.127.255.255", "::1", "fd12::1", "fc00::1", "::ffff:10.0.0.1"}) {
        INFO(a);
        CHECK(refused_address(ip(a), true));
    }
    for (auto a : {"8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1", "192.169.0.1"}) {
        INFO(a);
        CHECK_FALSE(refused_address(ip(a), true));
    }
}

TEST_CASE("WEBHOOK_ALLOWED_HOSTS: names, host:port, addresses and CIDR ranges") {
    auto l = list("Hooks.Example.com, api.example.com:8443, 10.0.0.0/8, [::1]:9000, fd00::/8, "
                  "192.168.1.5, ::ffff:172.16.0.0/108");
    REQUIRE(l.rules.size() == 7);
    CHECK(l.allows("hooks.example.com", 443, ip("8.8.8.8")));
    CHECK(l.allows("api.example.com", 8443, ip("8.8.8.8")));
    CHECK_FALSE(l.allows("api.example.com", 443, ip("8.8.8.8")));
    CHECK(l.allows("anything", 80, ip("10.9.9.9")));
    CHECK_FALSE(l.allows("anything", 80, ip("11.0.0.1")));
    CHECK(l.allows("[::1]", 9000, ip("::1")));
    CHECK_FALSE(l.allows("[::1]", 9001, ip("::1")));
    CHECK(l.allows("x", 1, ip("fd00::5")));
    CHECK(l.allows("x", 1, ip("192.168.1.5")));
    CHECK_FALSE(l.allows("x", 1, ip("192.168.1.6")));
    CHECK(l.allows("x", 1, ip("172.16.3.3")));
    CHECK_FALSE(l.allows("x", 1, ip("172.32.0.1")));
    // From the URL alone: names wait for the resolved address when address rules exist.
    CHECK(l.may_allow("other.example.com", 80));
    CHECK_FALSE(list("hooks.example.com").may_allow("other.example.com", 80));
    CHECK_FALSE(list("hooks.example.com:443").may_allow("hooks.example.com", 80));
    CHECK_FALSE(l.may_allow("11.0.0.1", 80));
}

TEST_CASE("WEBHOOK_ALLOWED_HOSTS: malformed entries are named") {
    CHECK(error_of("ok.com, 10.0.0.0/33") == "'10.0.0.0/33' has a prefix length out of range");
    CHECK(error_of("a.com:0").find("'a.com:0'") == 0);
    CHECK(error_of("a.com:65536").find("port") != std::string::npos);
    CHECK(error_of("[::1").find("closing") != std::string::npos);
    CHECK(error_of("[::1]x").find("port") != std::string::npos);
    CHECK(error_of("1:2:3:zz").find("not an IPv6 address") != std::string::npos);
    CHECK(error_of("host/8").find("CIDR") != std::string::npos);
    CHECK(error_of("a@b.com").find("not a host name") != std::string::npos);
    CHECK(error_of("::ffff:10.0.0.0/90").find("out of range") != std::string::npos);
    CHECK(list(" , ,").rules.empty());
}

TEST_CASE("webhook targets: always-refused first, then WEBHOOK_DENY_PRIVATE, then the list") {
    AllowList none;
    CHECK(check_webhook_target("a", 80, ip("127.0.0.1"), false, none) == std::nullopt);
    CHECK(check_webhook_target("a", 80, ip("127.0.0.1"), true, none)->find("loopback") !=
          std::string::npos);
    // An explicit range is how one private service stays reachable with WEBHOOK_DENY_PRIVATE.
    auto l = list("127.0.0.0/8");
    CHECK(check_webhook_target("a", 80, ip("127.0.0.1"), true, l) == std::nullopt);
    // A name rule does not: the name may resolve anywhere.
    CHECK(check_webhook_target("localhost", 80, ip("127.0.0.1"), true, list("localhost")));
    // Nothing opens the always-refused ranges.
    CHECK(check_webhook_target("a", 80, ip("169.254.169.254"), false, list("0.0.0.0/0")));
    auto why = check_webhook_target("evil.example", 80, ip("8.8.8.8"), false, list("a.com"));
    REQUIRE(why);
    CHECK(*why == "webhook target refused: evil.example:80 (8.8.8.8) is not in "
                  "WEBHOOK_ALLOWED_HOSTS");
}
