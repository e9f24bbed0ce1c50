#pragma once
// Factories of the built-in job types, one per file in src/handlers/.
#include <memory>

#include "handlers/handler.hpp"

namespace conveyor {

std::unique_ptr<Handler> make_noop_handler();
std::unique_ptr<Handler> make_email_handler();
std::unique_ptr<Handler> make_webhook_handler(const Config& cfg);
std::unique_ptr<Handler> make_telegram_handler();
std::unique_ptr<Handler> make_slack_handler();

} // namespace conveyor
