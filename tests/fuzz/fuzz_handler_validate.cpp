// Each built-in job type's validate(payload): the first byte picks the type (noop, email,
// webhook, telegram, webhook with WEBHOOK_ALLOWED_HOSTS), the rest is the payload JSON.
#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "handlers/registry.hpp"
#include "http/request_parsing.hpp"
#include "json_util.hpp"

using namespace conveyor;

namespace {

const HandlerRegistry& registry(bool restricted) {
    auto make = [](bool limited) {
        auto* reg = new HandlerRegistry;
        Config cfg;
        if (limited)
            cfg.webhook_allowed_hosts = {"example.com", "hooks.example.org"};
        register_builtin_handlers(*reg, cfg);
        return reg;
    };
    static const HandlerRegistry* open = make(false);
    static const HandlerRegistry* limited = make(true);
    return restricted ? *limited : *open;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1)
        return 0;
    static const char* const kTypes[] = {"noop", "email", "webhook", "telegram", "webhook"};
    unsigned pick = data[0] % 5;
    std::string text = fuzz::as_string(data + 1, size - 1);
    // The HTTP layer refuses deeper documents before parsing them.
    if (json_nesting_depth(text) > kMaxJsonDepth)
        return 0;
    auto payload = nlohmann::json::parse(text, nullptr, false);
    if (payload.is_discarded() || !payload.is_object())
        return 0;
    const Handler* handler = registry(pick == 4).find(kTypes[pick]);
    FUZZ_ASSERT(handler != nullptr);
    auto err = handler->validate(payload);
    if (err) {
        FUZZ_ASSERT(!err->empty());
        // The message goes into a 422 envelope.
        FUZZ_ASSERT(
            nlohmann::json::parse(error_body("invalid_payload", *err), nullptr, false).is_object());
    } else {
        // Validation is a pure function of the payload: a stored copy passes again.
        auto stored = nlohmann::json::parse(payload.dump(), nullptr, false);
        FUZZ_ASSERT(!handler->validate(stored));
    }
    return 0;
}
