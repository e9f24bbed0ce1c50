#pragma once
// PUT /schedules/<name>: the body {"cron", "timezone"?, "job", "enabled"?} checked field by field,
// pure (no I/O), so it is unit-tested and fuzzed alone. Every refusal is a 422 naming the field.
#include <string>
#include <variant>

#include "handlers/registry.hpp"
#include "http/request_parsing.hpp"
#include "model/schedule.hpp"

namespace conveyor {

std::variant<ScheduleSpec, ApiError>
parse_schedule(const std::string& name, const std::string& body, const HandlerRegistry& registry);

// A schedule name from a path: the queue-name alphabet; a 422 invalid_schedule_name otherwise.
std::optional<ApiError> check_schedule_name(const std::string& name);

} // namespace conveyor
