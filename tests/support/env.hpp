#pragma once
#include <chrono>
#include <functional>
#include <string>

namespace testsupport {

// CONVEYOR_TEST_* variables exported by scripts/test; fails the test with a clear message if unset.
std::string env_or_fail(const char* name);

// Polls `pred` every `step` until it holds or `timeout` passes. Returns whether it held.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(20));

} // namespace testsupport
