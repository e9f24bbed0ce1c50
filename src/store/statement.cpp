#include "store/statement.hpp"

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include "store/sql.hpp"

namespace conveyor::store {

namespace {
std::atomic<bool> pooled_mode{false};
} // namespace

void set_pooled(bool pooled) {
    pooled_mode = pooled;
}

bool pooled() {
    return pooled_mode.load(std::memory_order_relaxed);
}

const char* statement_sql(const char* name) {
    for (const auto& [n, text] : sql::all)
        if (std::strcmp(n, name) == 0)
            return text;
    throw std::logic_error(std::string("no statement named ") + name);
}

} // namespace conveyor::store
