// `noop`: succeeds at once. Used by health checks and benchmarks.
#include "handlers/builtin.hpp"

namespace conveyor {

namespace {
class NoopHandler final : public Handler {
  public:
    HandlerResult run(const nlohmann::json&, const HandlerContext&) const override {
        return HandlerResult::ok();
    }
    bool blocking() const override { return false; }
};
} // namespace

std::unique_ptr<Handler> make_noop_handler() {
    return std::make_unique<NoopHandler>();
}

} // namespace conveyor
