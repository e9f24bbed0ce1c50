#include "engine/leadership.hpp"

#include <atomic>

#include "metrics/metrics.hpp"

namespace conveyor {

namespace {
std::atomic<bool> maintainer{false};
} // namespace

bool is_maintainer() {
    return maintainer.load(std::memory_order_relaxed);
}

void set_maintainer(bool holds_lease) {
    maintainer.store(holds_lease, std::memory_order_relaxed);
    metrics::set_maintainer(holds_lease); // conveyor_maintainer
}

} // namespace conveyor
