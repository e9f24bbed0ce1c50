#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "handlers/handler.hpp"

namespace conveyor {

class HandlerRegistry {
  public:
    void add(const std::string& job_type, std::unique_ptr<Handler> handler);
    const Handler* find(const std::string& job_type) const;
    std::vector<std::string> names() const; // sorted

  private:
    std::map<std::string, std::unique_ptr<Handler>> handlers_;
};

// Registers the job types Conveyor ships with: one line per type in registry.cpp.
void register_builtin_handlers(HandlerRegistry& registry, const Config& config);

} // namespace conveyor
