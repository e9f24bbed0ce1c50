// WEBHOOK_ALLOWED_HOSTS and the address rules: parse_allow_list, parse_ip, check_webhook_target.
// Input: the first 16 bytes are a connected address (the first byte's low bit picks IPv4 from
// bytes 1..4 or IPv6 from 0..15, as a sockaddr gives them), the next 2 a port, the rest the
// setting's text.
#include "fuzz_util.hpp"
#include "net/address_policy.hpp"

using namespace conveyor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 18)
        return 0;
    bool v6 = data[0] & 1;
    IpAddress connected = ip_from_bytes(v6 ? data : data + 1, v6);
    int port = ((data[16] << 8) | data[17]) % 65536;
    std::string text = fuzz::as_string(data + 18, size - 18);

    // The address as text parses back to itself.
    auto again = parse_ip(connected.text());
    FUZZ_ASSERT(again && again->v6 == connected.v6 && again->bytes == connected.bytes);
    // Denying private ranges only ever refuses more.
    if (refused_address(connected, false))
        FUZZ_ASSERT(refused_address(connected, true));

    parse_ip(text);
    auto parsed = parse_allow_list(text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_ASSERT(!error->empty());
        return 0;
    }
    const auto& list = std::get<AllowList>(parsed);
    for (const auto& r : list.rules) {
        FUZZ_ASSERT(r.host.empty() != !r.net);
        if (r.port)
            FUZZ_ASSERT(*r.port >= 1 && *r.port <= 65535);
        if (r.net)
            FUZZ_ASSERT(r.net->prefix >= 0 && r.net->prefix <= (r.net->base.v6 ? 128 : 32));
    }
    std::string host = connected.v6 ? "[" + connected.text() + "]" : connected.text();
    auto verdict = check_webhook_target(host, port, connected, false, list);
    auto strict = check_webhook_target(host, port, connected, true, list);
    // The allow-list can only narrow the defaults; the always-refused ranges stay refused.
    if (refused_address(connected, false))
        FUZZ_ASSERT(verdict && strict);
    if (!verdict && !list.rules.empty())
        FUZZ_ASSERT(list.allows(host, port, connected));
    if (!strict)
        FUZZ_ASSERT(!verdict);
    // What is allowed at the address was not refused from the URL alone.
    if (!verdict)
        FUZZ_ASSERT(list.may_allow(host, port));
    return 0;
}
