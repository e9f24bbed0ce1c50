#pragma once
#include "config.hpp"
#include "handlers/registry.hpp"

namespace conveyor {

// Migrates, runs the actors and the HTTP server until SIGTERM/SIGINT, then shuts down gracefully.
// Returns the process exit code.
int run_service(const Config& cfg, const HandlerRegistry& registry);

// `conveyor migrate`.
int run_migrations(const Config& cfg);

// The whole command line: parses config, registers the built-in job types plus `extra`, runs.
int conveyor_main(int argc, char** argv, void (*extra)(HandlerRegistry&, const Config&) = nullptr);

} // namespace conveyor
