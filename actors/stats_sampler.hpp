#pragma once
// The stats sampler computes the database-derived gauges of /metrics (jobs by queue and status,
// oldest pending age) with one query at most every kStatsRefresh (less often when the query is
// slow: at most 5% of the time), and only while /metrics was scraped within the last
// kStatsWatched: a scrape reads what it last computed and costs the database nothing.
#include <chrono>
#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "config.hpp"

namespace conveyor {

constexpr std::chrono::seconds kStatsRefresh{5};
constexpr std::chrono::seconds kStatsWatched{60};

using stats_sampler_actor = caf::typed_actor<
    // Self-sent every second: samples when watched and the last sample is kStatsRefresh old.
    caf::reacts_to<sample_atom>,
    // Quits; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

stats_sampler_actor spawn_stats_sampler(caf::actor_system& sys, std::shared_ptr<const Config> cfg);

} // namespace conveyor
