#include "handlers/registry.hpp"

#include "handlers/builtin.hpp"

namespace conveyor {

void HandlerRegistry::add(const std::string& job_type, std::unique_ptr<Handler> handler) {
    handlers_[job_type] = std::move(handler);
}

const Handler* HandlerRegistry::find(const std::string& job_type) const {
    auto it = handlers_.find(job_type);
    return it == handlers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> HandlerRegistry::names() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : handlers_)
        out.push_back(name);
    return out;
}

void register_builtin_handlers(HandlerRegistry& registry, const Config& config) {
    registry.add("noop", make_noop_handler());
    registry.add("email", make_email_handler());
    registry.add("webhook", make_webhook_handler(config));
    registry.add("telegram", make_telegram_handler());
    registry.add("slack", make_slack_handler());
}

} // namespace conveyor
