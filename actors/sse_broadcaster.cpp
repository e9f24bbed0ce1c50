#include "actors/sse_broadcaster.hpp"

#include <deque>
#include <optional>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "log.hpp"

namespace conveyor {

namespace {

struct subscriber {
    std::shared_ptr<SseSink> sink;
    EventFilter filter;
    bool wrote_since_tick = false;
    std::optional<std::chrono::steady_clock::time_point> behind_since;
    // A client resuming here with an id another process already sent it: nothing up to it again.
    std::uint64_t after_id = 0;
};

struct broadcaster_state {
    std::deque<JobEvent> window;
    std::uint64_t latest_id = 0; // newest event seen, even when the window is empty
    // Events in `window` not yet written to subscribers (std::deque keeps them in place).
    std::vector<const JobEvent*> undelivered;
    bool delivery_scheduled = false;
    std::chrono::steady_clock::time_point last_delivery{};
    std::unordered_map<std::uint64_t, subscriber> subscribers;
    std::uint64_t next_subscriber = 1;
    std::shared_ptr<std::atomic<int>> count;
    static inline const char* name = "sse_broadcaster";
};

using self_ptr = sse_broadcaster_actor::stateful_pointer<broadcaster_state>;

// Unsent bytes of all subscribers together.
std::size_t total_pending(const broadcaster_state& st) {
    std::size_t total = 0;
    for (const auto& [_, sub] : st.subscribers)
        total += sub.sink->pending_bytes();
    return total;
}

// What one subscriber may hold unsent while all together are over kMaxPendingBytesTotal.
std::size_t fair_share(const broadcaster_state& st) {
    return kMaxPendingBytesTotal / std::max<std::size_t>(1, st.subscribers.size());
}

// False when the subscriber must go: its client is gone, or it stopped reading. `share` is what
// it may hold unsent: less than kMaxPendingBytes while all together are over their budget.
bool healthy(subscriber& s, std::size_t share = kMaxPendingBytes) {
    if (s.sink->failed())
        return false;
    auto pending = s.sink->pending_bytes();
    if (pending > kMaxPendingBytes || pending > share)
        return false;
    if (pending <= kSlowPendingBytes) {
        s.behind_since.reset();
        return true;
    }
    auto now = std::chrono::steady_clock::now();
    if (!s.behind_since)
        s.behind_since = now;
    return now - *s.behind_since <= kSlowFor;
}

bool deliver(subscriber& s, std::shared_ptr<std::string> bytes,
             std::size_t share = kMaxPendingBytes) {
    if (s.sink->failed())
        return false;
    s.sink->write(std::move(bytes));
    s.wrote_since_tick = true;
    return healthy(s, share);
}

void drop(self_ptr self, std::uint64_t id, const char* why = nullptr) {
    auto it = self->state.subscribers.find(id);
    if (it == self->state.subscribers.end())
        return;
    auto pending = it->second.sink->pending_bytes();
    bool disconnected = it->second.sink->failed();
    if (why)
        it->second.sink->close();
    else
        // A reset frees the socket and what is queued for it now, not after a write timeout.
        it->second.sink->abort();
    if (!why)
        why = disconnected ? "disconnected" : "too slow";
    self->state.subscribers.erase(it);
    log::info("sse", std::string("subscriber dropped (") + why + ", " + std::to_string(pending) +
                         " bytes unsent); " + std::to_string(self->state.subscribers.size()) +
                         " streams open");
}

// Sends the events gathered since the last delivery to every matching subscriber.
void deliver_pending(self_ptr self) {
    auto& st = self->state;
    st.delivery_scheduled = false;
    st.last_delivery = std::chrono::steady_clock::now();
    if (st.undelivered.empty())
        return;
    std::vector<std::uint64_t> gone;
    auto share = total_pending(st) > kMaxPendingBytesTotal ? fair_share(st) : kMaxPendingBytes;
    // Unfiltered subscribers all get the same bytes: build them once and share the buffer.
    std::shared_ptr<std::string> everything;
    for (auto& [id, sub] : st.subscribers) {
        std::shared_ptr<std::string> chunk;
        if (sub.after_id >= st.undelivered.front()->id) {
            chunk = std::make_shared<std::string>();
            for (const auto* e : st.undelivered)
                if (e->id > sub.after_id && sub.filter.matches(*e))
                    *chunk += e->frame;
        } else if (sub.filter.empty()) {
            if (!everything) {
                everything = std::make_shared<std::string>();
                for (const auto* e : st.undelivered)
                    *everything += e->frame;
            }
            chunk = everything;
        } else {
            chunk = std::make_shared<std::string>();
            for (const auto* e : st.undelivered)
                if (sub.filter.matches(*e))
                    *chunk += e->frame;
        }
        if (!chunk->empty() && !deliver(sub, chunk, share))
            gone.push_back(id);
    }
    st.undelivered.clear();
    for (auto id : gone)
        drop(self, id);
}

void on_batch(self_ptr self, EventBatch& batch) {
    auto& st = self->state;
    for (const auto& e : batch.events)
        st.latest_id = std::max(st.latest_id, e.id);
    for (auto& e : batch.events) {
        st.window.push_back(std::move(e));
        if (!batch.window)
            st.undelivered.push_back(&st.window.back());
    }
    // Trim only what has been delivered (undelivered events are the newest ones).
    while (st.window.size() > kEventWindow && st.window.size() > st.undelivered.size())
        st.window.pop_front();
    if (st.undelivered.empty() || st.delivery_scheduled)
        return;
    // Each write to a stream costs a trip through the HTTP I/O threads: with many subscribers,
    // writing at most every kDeliveryInterval keeps that cost bounded, at that price in delay.
    auto due = st.last_delivery + kDeliveryInterval;
    auto now = std::chrono::steady_clock::now();
    if (now >= due || st.subscribers.empty()) {
        deliver_pending(self);
    } else {
        st.delivery_scheduled = true;
        self->delayed_send(self, std::chrono::duration_cast<std::chrono::microseconds>(due - now),
                           deliver_atom::value);
    }
}

// The newest event every subscriber has been sent; later ones go out with the next delivery.
std::uint64_t delivered_head(const broadcaster_state& st) {
    return st.undelivered.empty() ? st.latest_id : st.undelivered.front()->id - 1;
}

void on_subscribe(self_ptr self, Subscribe& m) {
    auto& st = self->state;
    subscriber sub{std::move(m.sink), std::move(m.filter), false, std::nullopt,
                   m.resume ? m.last_event_id : 0};
    if (m.resume) {
        bool in_window = !st.window.empty() ? m.last_event_id + 1 >= st.window.front().id &&
                                                  m.last_event_id <= st.latest_id
                                            : m.last_event_id == st.latest_id;
        std::string chunk;
        const char* reason = "is outside the retained window";
        if (in_window) {
            // Events not yet delivered reach this subscriber with everyone else's next write.
            auto delivered = st.window.size() - st.undelivered.size();
            for (std::size_t i = 0; i < delivered && chunk.size() <= kMaxReplayBytes; ++i) {
                const auto& e = st.window[i];
                if (e.id > m.last_event_id && sub.filter.matches(e))
                    chunk += e.frame;
            }
            // A replay this large, or one that the other streams leave no room for, would have
            // the stream dropped before it is sent: the client refetches instead.
            if (chunk.size() > kMaxReplayBytes) {
                in_window = false;
                reason = "is too far behind to replay";
            } else if (chunk.size() > kSlowPendingBytes &&
                       total_pending(st) + chunk.size() > kMaxPendingBytesTotal) {
                in_window = false;
                reason = "is too far behind to replay while the server is this busy";
            }
        }
        if (!in_window) {
            // The client missed more than we kept (or its id is ahead of the log: another
            // database, a restored backup). It must refetch; from here on it is live, and the
            // frame's id lets a reconnecting EventSource resume from this point, not the old id.
            auto head = delivered_head(st);
            sub.after_id = head;
            chunk = "id: " + std::to_string(head) +
                    "\nevent: reset\ndata: {\"reason\":\"Last-Event-ID " +
                    std::to_string(m.last_event_id) + " " + reason +
                    "; refetch state with GET /jobs\"}\n\n";
        }
        if (!chunk.empty() && !deliver(sub, std::make_shared<std::string>(std::move(chunk)))) {
            sub.sink->abort();
            return;
        }
    }
    st.subscribers.emplace(st.next_subscriber++, std::move(sub));
}

sse_broadcaster_actor::behavior_type broadcaster(self_ptr self, std::shared_ptr<const Config> cfg,
                                                 std::shared_ptr<std::atomic<int>> count) {
    self->state.count = std::move(count);
    self->delayed_send(self, std::chrono::seconds(cfg->sse_keepalive_s), keepalive_atom::value);
    self->delayed_send(self, kSweepInterval, sweep_atom::value);
    return {
        [=](EventBatch& b) { on_batch(self, b); },
        [=](deliver_atom) { deliver_pending(self); },
        [=](Subscribe& m) { on_subscribe(self, m); },
        [=](keepalive_atom) {
            std::vector<std::uint64_t> gone;
            auto keepalive = std::make_shared<std::string>(": keepalive\n\n");
            for (auto& [id, sub] : self->state.subscribers) {
                bool ok = sub.wrote_since_tick ? healthy(sub) : deliver(sub, keepalive);
                sub.wrote_since_tick = false;
                if (!ok)
                    gone.push_back(id);
            }
            for (auto id : gone)
                drop(self, id);
            self->delayed_send(self, std::chrono::seconds(cfg->sse_keepalive_s),
                               keepalive_atom::value);
        },
        [=](sweep_atom) {
            // Also between events: a stream that stalled after its last write (a replay it never
            // reads) is dropped kSlowFor later, not at a keep-alive.
            auto& st = self->state;
            auto share =
                total_pending(st) > kMaxPendingBytesTotal ? fair_share(st) : kMaxPendingBytes;
            std::vector<std::uint64_t> gone;
            for (auto& [id, sub] : st.subscribers)
                if (!healthy(sub, share))
                    gone.push_back(id);
            for (auto id : gone)
                drop(self, id);
            self->delayed_send(self, kSweepInterval, sweep_atom::value);
        },
        [=](stop_atom) {
            std::vector<std::uint64_t> all;
            for (auto& [id, _] : self->state.subscribers)
                all.push_back(id);
            for (auto id : all)
                drop(self, id, "shutting down");
            self->quit();
            return true;
        },
    };
}

} // namespace

sse_broadcaster_actor spawn_sse_broadcaster(caf::actor_system& sys,
                                            std::shared_ptr<const Config> cfg,
                                            std::shared_ptr<std::atomic<int>> subscribers) {
    return sys.spawn(broadcaster, std::move(cfg), std::move(subscribers));
}

} // namespace conveyor
