#pragma once
// Factories of the built-in job types, one per file in src/handlers/.
#include <memory>

#include "handlers/handler.hpp"

namespace conveyor {

std::unique_ptr<Handler> make_noop_handler();

}  // namespace conveyor
