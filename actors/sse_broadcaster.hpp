#pragma once
// The SSE broadcaster fans job events out to GET /events subscribers. It keeps the newest events
// (the resume window), replays them for Last-Event-ID, sends keep-alives, and drops subscribers
// whose unsent bytes pass a bound, so a stalled client never slows anyone else.
#include <atomic>
#include <chrono>
#include <memory>

#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "config.hpp"

namespace conveyor {

// Events kept for Last-Event-ID resume.
constexpr std::size_t kEventWindow = 10000;
// A subscriber is disconnected when its unsent bytes stay above kSlowPendingBytes for longer than
// kSlowFor (a burst of events is fine, a reader that stopped is not), or at once above
// kMaxPendingBytes. Memory per subscriber is thereby bounded.
constexpr std::size_t kSlowPendingBytes = 256 * 1024;
constexpr std::chrono::seconds kSlowFor{5};
constexpr std::size_t kMaxPendingBytes = 8 * 1024 * 1024;
// All subscribers together: past this many unsent bytes, a subscriber holding more than its
// share is dropped at once, and a resume that does not fit starts with `event: reset`.
constexpr std::size_t kMaxPendingBytesTotal = 256 * 1024 * 1024;
// A resume whose replay would be larger starts with `event: reset` instead: the client refetches
// rather than have a stream start half way to being dropped.
constexpr std::size_t kMaxReplayBytes = 4 * 1024 * 1024;
// How often streams whose connection closed (noticed by the HTTP layer at once) or that stopped
// reading are looked for, so that their buffers are freed soon, whether or not events flow.
constexpr std::chrono::milliseconds kSweepInterval{250};
// Subscribers are written to at most this often; events arriving meanwhile go out together.
constexpr std::chrono::milliseconds kDeliveryInterval{15};

using sse_broadcaster_actor = caf::typed_actor<
    // From the notifier: new events, in id order.
    caf::reacts_to<EventBatch>,
    // Self-sent: write the events gathered since the last delivery.
    caf::reacts_to<deliver_atom>,
    // From HTTP: a new stream; replays what it missed when resuming, then sends live events.
    caf::reacts_to<Subscribe>,
    // Self-sent every SSE_KEEPALIVE_S: comment lines to idle streams, cleanup of dead ones.
    caf::reacts_to<keepalive_atom>,
    // Self-sent every kSweepInterval: drops streams whose connection is gone or that stalled.
    caf::reacts_to<sweep_atom>,
    // Closes every stream; answers true.
    caf::replies_to<stop_atom>::with<bool>>;

// `subscribers` is counted by the HTTP layer, which refuses streams past SSE_MAX_SUBSCRIBERS and
// counts a stream until its connection is closed (a dropped stream included).
sse_broadcaster_actor spawn_sse_broadcaster(caf::actor_system& sys,
                                            std::shared_ptr<const Config> cfg,
                                            std::shared_ptr<std::atomic<int>> subscribers);

} // namespace conveyor
