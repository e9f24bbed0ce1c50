#pragma once
// Which network addresses a webhook may reach (issue 17, SECURITY.md): the rules applied to the
// address a connection is about to be made to, and the WEBHOOK_ALLOWED_HOSTS list. Pure code, no
// sockets, so that it can be tested and fuzzed on its own.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace conveyor {

// An IPv4 or IPv6 address. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible and NAT64
// (64:ff9b::/96) IPv6 addresses reach an IPv4 host: they are kept as that IPv4 address, so one
// rule covers every spelling.
struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{}; // IPv4 in the first 4
    std::string text() const;
};

// A literal address: dotted IPv4, IPv6 with or without [brackets]. Names are not resolved.
std::optional<IpAddress> parse_ip(const std::string& s);
// From the raw bytes of a sockaddr's address (4 or 16 bytes).
IpAddress ip_from_bytes(const std::uint8_t* bytes, bool v6);

struct IpNet {
    IpAddress base;
    int prefix = 0;
    bool contains(const IpAddress& a) const;
};

// Why an address is refused before any allow-list applies, or nothing. Link-local, cloud
// metadata, unspecified, multicast and broadcast addresses always are; with `deny_private`,
// loopback, RFC 1918, CGNAT (100.64/10) and ULA (fc00::/7) addresses too.
std::optional<std::string> refused_address(const IpAddress& a, bool deny_private);
// True for the ranges `deny_private` refuses.
bool is_private_address(const IpAddress& a);

// One WEBHOOK_ALLOWED_HOSTS entry: a host name, a name or address with a port, or a CIDR range
// (an address alone is a /32 or /128).
struct AllowRule {
    std::string host;         // lower-case name; empty for an address rule
    std::optional<IpNet> net; // address rules
    std::optional<int> port;  // empty: any port
    std::string text;         // as written, for messages
};

struct AllowList {
    std::vector<AllowRule> rules; // empty: everything not refused is allowed

    // Before any connection: could a URL with this (lower-case) host and port be allowed? A name
    // passes when a name rule matches it or when address rules exist (they are checked on the
    // resolved address).
    bool may_allow(const std::string& host, int port) const;
    // On the address actually connected to, for a URL of `host` and `port`.
    bool allows(const std::string& host, int port, const IpAddress& connected) const;
    // An address rule contains this address (so WEBHOOK_DENY_PRIVATE yields to it).
    bool lists_address(const IpAddress& a, int port) const;
};

// Comma-separated entries, blanks ignored. An error names the entry that is not one.
std::variant<AllowList, std::string> parse_allow_list(const std::string& text);

// The decision for one connection: empty when allowed, else the reason (for last_error).
std::optional<std::string> check_webhook_target(const std::string& host, int port,
                                                const IpAddress& connected, bool deny_private,
                                                const AllowList& allow);

} // namespace conveyor
