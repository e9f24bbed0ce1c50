#include "net/address_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace conveyor {

namespace {

const char* const kAlways = "such addresses are always refused";
const char* const kDenyPrivate = "refused by WEBHOOK_DENY_PRIVATE=true";

IpNet net4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, int prefix) {
    IpNet n;
    n.base.bytes = {a, b, c, d};
    n.prefix = prefix;
    return n;
}

IpNet net6(std::initializer_list<std::uint8_t> head, int prefix) {
    IpNet n;
    n.base.v6 = true;
    std::copy(head.begin(), head.end(), n.base.bytes.begin());
    n.prefix = prefix;
    return n;
}

struct Range {
    IpNet net;
    const char* what;
};

// Never a legitimate webhook receiver: the metadata services hand out cloud credentials.
const std::vector<Range>& always_refused() {
    static const std::vector<Range> ranges = {
        {net4(0, 0, 0, 0, 8), "an unspecified address (0.0.0.0/8)"},
        {net4(169, 254, 0, 0, 16), "a link-local address (169.254.0.0/16, cloud metadata)"},
        {net4(100, 100, 100, 200, 32), "a cloud metadata address (100.100.100.200)"},
        {net4(224, 0, 0, 0, 4), "a multicast address (224.0.0.0/4)"},
        {net4(240, 0, 0, 0, 4), "a reserved or broadcast address (240.0.0.0/4)"},
        {net6({}, 128), "an unspecified address (::)"},
        {net6({0xfe, 0x80}, 10), "a link-local address (fe80::/10)"},
        {net6({0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128),
         "a cloud metadata address (fd00:ec2::254)"},
        {net6({0xff}, 8), "a multicast address (ff00::/8)"},
    };
    return ranges;
}

const std::vector<Range>& private_ranges() {
    static const std::vector<Range> ranges = {
        {net4(127, 0, 0, 0, 8), "a loopback address (127.0.0.0/8)"},
        {net4(10, 0, 0, 0, 8), "a private address (10.0.0.0/8, RFC 1918)"},
        {net4(172, 16, 0, 0, 12), "a private address (172.16.0.0/12, RFC 1918)"},
        {net4(192, 168, 0, 0, 16), "a private address (192.168.0.0/16, RFC 1918)"},
        {net4(100, 64, 0, 0, 10), "a shared (CGNAT) address (100.64.0.0/10)"},
        {net6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128), "a loopback address (::1)"},
        {net6({0xfc}, 7), "a unique local address (fc00::/7)"},
    };
    return ranges;
}

const Range* find_range(const std::vector<Range>& ranges, const IpAddress& a) {
    for (const auto& r : ranges)
        if (r.net.contains(a))
            return &r;
    return nullptr;
}

std::optional<int> parse_port(const std::string& s) {
    if (s.empty() || s.size() > 5 ||
        !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        return std::nullopt;
    int p = std::stoi(s);
    if (p < 1 || p > 65535)
        return std::nullopt;
    return p;
}

bool is_host_name(const std::string& s) {
    if (s.empty() || s.size() > 253)
        return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
}

bool port_ok(const AllowRule& r, int port) {
    return !r.port || *r.port == port;
}

// One entry, lower-cased and without blanks.
std::variant<AllowRule, std::string> parse_rule(const std::string& e) {
    AllowRule r;
    r.text = e;
    auto bad = [&](const std::string& why) { return "'" + e + "' " + why; };
    if (e[0] == '[') {
        auto close = e.find(']');
        if (close == std::string::npos)
            return bad("has no closing ]");
        auto ip = parse_ip(e.substr(0, close + 1));
        if (!ip)
            return bad("is not an IPv6 address in brackets");
        r.net = IpNet{*ip, ip->v6 ? 128 : 32};
        auto rest = e.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':' || !(r.port = parse_port(rest.substr(1))))
                return bad("has a port that is not 1..65535");
        }
        return r;
    }
    if (auto slash = e.find('/'); slash != std::string::npos) {
        auto addr = e.substr(0, slash);
        auto ip = parse_ip(addr);
        auto bits = e.substr(slash + 1);
        if (!ip)
            return bad("is not a CIDR range (address/prefix)");
        if (bits.empty() || bits.size() > 3 ||
            !std::all_of(bits.begin(), bits.end(), [](unsigned char c) { return std::isdigit(c); }))
            return bad("has a prefix length that is not a number");
        int prefix = std::stoi(bits);
        // An IPv4-mapped range is kept as IPv4, like the addresses it covers.
        bool written_v6 = addr.find(':') != std::string::npos;
        if (written_v6 && !ip->v6)
            prefix -= 96;
        int max = ip->v6 ? 128 : 32;
        if (prefix < 0 || prefix > max)
            return bad("has a prefix length out of range");
        r.net = IpNet{*ip, prefix};
        return r;
    }
    auto colons = std::count(e.begin(), e.end(), ':');
    if (colons > 1) {
        auto ip = parse_ip(e);
        if (!ip)
            return bad("is not an IPv6 address (put a port after [address])");
        r.net = IpNet{*ip, ip->v6 ? 128 : 32};
        return r;
    }
    std::string host = e;
    if (colons == 1) {
        auto colon = e.find(':');
        host = e.substr(0, colon);
        if (!(r.port = parse_port(e.substr(colon + 1))))
            return bad("has a port that is not 1..65535");
    }
    if (auto ip = parse_ip(host)) {
        r.net = IpNet{*ip, 32};
        return r;
    }
    if (!is_host_name(host))
        return bad("is not a host name, host:port or CIDR range");
    r.host = host;
    return r;
}

} // namespace

std::string IpAddress::text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
    return buf;
}

IpAddress ip_from_bytes(const std::uint8_t* b, bool v6) {
    IpAddress a;
    if (!v6) {
        std::memcpy(a.bytes.data(), b, 4);
        return a;
    }
    static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const std::uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(b, mapped, 12) == 0 || std::memcmp(b, nat64, 12) == 0) {
        std::memcpy(a.bytes.data(), b + 12, 4);
        return a;
    }
    a.v6 = true;
    std::memcpy(a.bytes.data(), b, 16);
    return a;
}

std::optional<IpAddress> parse_ip(const std::string& raw) {
    std::string s = raw;
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']')
        s = s.substr(1, s.size() - 2);
    if (s.empty() || s.find('\0') != std::string::npos)
        return std::nullopt;
    std::uint8_t buf[16];
    if (s.find(':') == std::string::npos) {
        if (raw.front() == '[' || inet_pton(AF_INET, s.c_str(), buf) != 1)
            return std::nullopt;
        return ip_from_bytes(buf, false);
    }
    // A zone id (fe80::1%eth0) is not an address of a remote host.
    if (inet_pton(AF_INET6, s.c_str(), buf) != 1)
        return std::nullopt;
    return ip_from_bytes(buf, true);
}

bool IpNet::contains(const IpAddress& a) const {
    if (a.v6 != base.v6)
        return false;
    int full = prefix / 8, rest = prefix % 8;
    if (std::memcmp(a.bytes.data(), base.bytes.data(), static_cast<std::size_t>(full)) != 0)
        return false;
    if (rest == 0)
        return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    auto i = static_cast<std::size_t>(full);
    return (a.bytes[i] & mask) == (base.bytes[i] & mask);
}

bool is_private_address(const IpAddress& a) {
    return find_range(private_ranges(), a) != nullptr;
}

std::optional<std::string> refused_address(const IpAddress& a, bool deny_private) {
    if (auto* r = find_range(always_refused(), a))
        return a.text() + " is " + r->what + ": " + kAlways;
    if (deny_private)
        if (auto* r = find_range(private_ranges(), a))
            return a.text() + " is " + r->what + ": " + kDenyPrivate;
    return std::nullopt;
}

bool AllowList::may_allow(const std::string& host, int port) const {
    if (rules.empty())
        return true;
    auto ip = parse_ip(host);
    return std::any_of(rules.begin(), rules.end(), [&](const AllowRule& r) {
        if (!port_ok(r, port))
            return false;
        if (ip)
            return r.net && r.net->contains(*ip);
        return r.net || r.host == host;
    });
}

bool AllowList::allows(const std::string& host, int port, const IpAddress& connected) const {
    if (rules.empty())
        return true;
    return std::any_of(rules.begin(), rules.end(), [&](const AllowRule& r) {
        return port_ok(r, port) &&
               ((!r.host.empty() && r.host == host) || (r.net && r.net->contains(connected)));
    });
}

bool AllowList::lists_address(const IpAddress& a, int port) const {
    return std::any_of(rules.begin(), rules.end(), [&](const AllowRule& r) {
        return r.net && port_ok(r, port) && r.net->contains(a);
    });
}

std::variant<AllowList, std::string> parse_allow_list(const std::string& text) {
    AllowList out;
    std::string item;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == ',') {
            if (!item.empty()) {
                auto rule = parse_rule(item);
                if (auto* error = std::get_if<std::string>(&rule))
                    return *error;
                out.rules.push_back(std::move(std::get<AllowRule>(rule)));
            }
            item.clear();
        } else if (text[i] != ' ' && text[i] != '\t') {
            item += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
        }
    }
    return out;
}

std::optional<std::string> check_webhook_target(const std::string& host, int port,
                                                const IpAddress& connected, bool deny_private,
                                                const AllowList& allow) {
    if (auto why = refused_address(connected, false))
        return "webhook target refused: " + *why;
    // Listing an address range explicitly is the way to reach one private service.
    if (deny_private && !allow.lists_address(connected, port))
        if (auto why = refused_address(connected, true))
            return "webhook target refused: " + *why;
    if (!allow.allows(host, port, connected))
        return "webhook target refused: " + host + ":" + std::to_string(port) + " (" +
               connected.text() + ") is not in WEBHOOK_ALLOWED_HOSTS";
    return std::nullopt;
}

} // namespace conveyor
