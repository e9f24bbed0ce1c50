#pragma once
// The built-in job types with a default configuration, for unit tests of request parsing.
#include "config.hpp"
#include "handlers/registry.hpp"

namespace testsupport {

inline const conveyor::HandlerRegistry& builtin_registry() {
    static conveyor::HandlerRegistry r = [] {
        conveyor::HandlerRegistry reg;
        conveyor::register_builtin_handlers(reg, conveyor::Config{});
        return reg;
    }();
    return r;
}

} // namespace testsupport
