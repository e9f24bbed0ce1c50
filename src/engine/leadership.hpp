#pragma once
// Whether this process holds the maintainer lease right now. Written only by the maintainer actor
// (actors/maintainer.cpp); read by the tasks it gates (reaper, cleaner, schedule ticks) and by
// /healthz. A process-wide flag because there is exactly one lease holder per process.
namespace conveyor {

bool is_maintainer();
void set_maintainer(bool holds_lease);

} // namespace conveyor
