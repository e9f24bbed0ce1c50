#include "actors/notifier.hpp"

#include <future>

#include <poll.h>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/send.hpp>
#include <pqxx/pqxx>

#include "log.hpp"
#include "metrics/metrics.hpp"
#include "store/queries.hpp"

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

// A gap in event ids older than this is a rolled-back transaction (or a sequence jump after a
// crash), not one still committing: skip it.
constexpr auto kGapPatience = std::chrono::milliseconds(500);
constexpr int kReadLimit = 5000;
// Under load every commit sends a NOTIFY; reading the event log at most this often batches them
// (one query per interval instead of one per commit) at a small cost in delivery delay.
constexpr auto kReadEvery = std::chrono::milliseconds(4);
// After a read that found events, read once more this much later even without a NOTIFY: busy
// sessions send at most one NOTIFY per 5 ms, so their last commits of a burst may come silently.
constexpr auto kTrailingRead = std::chrono::milliseconds(12);

class Receiver final : public pqxx::notification_receiver {
  public:
    using Callback = std::function<void(const std::string& payload)>;
    Receiver(pqxx::connection_base& c, const std::string& channel, Callback fn)
        : pqxx::notification_receiver(c, channel), fn_(std::move(fn)) {}
    void operator()(const std::string& payload, int) override { fn_(payload); }

  private:
    Callback fn_;
};

struct EventReader {
    std::uint64_t last = 0; // newest id passed on
    std::optional<clock::time_point> gap_since;
    bool pending = true;
    clock::time_point last_read{};
    std::optional<clock::time_point> trailing_at;

    // How long poll() may wait: until the next read is allowed when one is due, else a while.
    int wait_ms() {
        if (trailing_at && clock::now() >= *trailing_at) {
            trailing_at.reset();
            pending = true;
        }
        if (!pending && !gap_since) {
            if (!trailing_at)
                return 100;
            return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        *trailing_at - clock::now())
                                        .count()) +
                   1;
        }
        auto next = last_read + kReadEvery;
        auto now = clock::now();
        return next <= now ? 0
                           : static_cast<int>(
                                 std::chrono::duration_cast<std::chrono::milliseconds>(next - now)
                                     .count()) +
                                 1;
    }
    bool may_read() const {
        return (pending || gap_since) && clock::now() >= last_read + kReadEvery;
    }

    // Reads what is new and passes on the contiguous part.
    void read(pqxx::connection& conn, const sse_broadcaster_actor& broadcaster) {
        pending = false;
        last_read = clock::now();
        // While waiting for a gap to fill, look only just past it: the rows behind it were read
        // already and will come again in the full read that follows.
        const int limit = gap_since ? 64 : kReadLimit;
        auto rows = store::read_events(conn, last, limit);
        EventBatch batch;
        bool stopped_at_gap = false;
        for (auto& e : rows) {
            if (e.id != last + 1) {
                auto now = clock::now();
                if (!gap_since)
                    gap_since = now;
                if (now - *gap_since < kGapPatience) {
                    stopped_at_gap = true;
                    break;
                }
                log::debug("notifier", "skipping event ids " + std::to_string(last + 1) + ".." +
                                           std::to_string(e.id - 1));
            }
            gap_since.reset();
            last = e.id;
            batch.events.push_back(std::move(e));
        }
        if (!stopped_at_gap)
            gap_since.reset();
        if (static_cast<int>(rows.size()) == limit && !stopped_at_gap)
            pending = true;
        if (!batch.events.empty()) {
            trailing_at = last_read + kTrailingRead;
            caf::anon_send(broadcaster, std::move(batch));
        }
    }
};

bool works(const Config& cfg, const std::string& queue) {
    if (queue.empty() || cfg.queues.empty())
        return true;
    for (const auto& q : cfg.queues)
        if (q.name == queue)
            return true;
    return false;
}

void notifier(caf::blocking_actor* self, std::shared_ptr<const Config> cfg, claimer_actor claimer,
              sse_broadcaster_actor broadcaster, std::shared_ptr<std::promise<void>> ready) {
    bool running = true;
    bool window_loaded = false;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<Receiver> wake, events, cancels;
    EventReader reader;
    int failures = 0;
    auto check_mailbox = [&](std::chrono::milliseconds wait) {
        self->receive(
            [&](stop_atom) {
                running = false;
                return true;
            },
            caf::after(wait) >> [] {});
    };
    while (running) {
        try {
            if (!conn) {
                conn = store::connect(cfg->listen_url(), store::Role::listener);
                // A wake names the queue that got work ("" for any): only claimers working it
                // are woken.
                wake = std::make_unique<Receiver>(*conn, "conveyor_wake",
                                                  [&](const std::string& queue) {
                                                      if (works(*cfg, queue))
                                                          caf::anon_send(claimer, wake_atom::value);
                                                  });
                events = std::make_unique<Receiver>(
                    *conn, "conveyor_events", [&](const std::string&) { reader.pending = true; });
                cancels =
                    std::make_unique<Receiver>(*conn, "conveyor_cancel", [&](const std::string&) {
                        caf::anon_send(claimer, cancel_atom::value);
                    });
                if (!window_loaded) {
                    // Start live from now, with the newest events kept for Last-Event-ID resume.
                    auto recent = store::latest_events(*conn, static_cast<int>(kEventWindow));
                    if (!recent.empty())
                        reader.last = recent.back().id;
                    caf::anon_send(broadcaster, EventBatch{std::move(recent), true});
                    window_loaded = true;
                    ready->set_value();
                }
                if (failures > 0)
                    log::info("notifier", "LISTEN connection re-established");
                failures = 0;
                reader.pending = true; // catch up on events committed while we were away
                // Anything inserted while we were deaf is found by this claim.
                caf::anon_send(claimer, wake_atom::value);
            }
            pollfd pfd{conn->sock(), POLLIN, 0};
            ::poll(&pfd, 1, reader.wait_ms());
            conn->get_notifs();
            if (!conn->is_open())
                throw pqxx::broken_connection("LISTEN connection closed");
            if (reader.may_read())
                reader.read(*conn, broadcaster);
        } catch (const std::exception& e) {
            if (conn)
                metrics::database_connection_lost("listener");
            wake.reset();
            events.reset();
            cancels.reset();
            conn.reset();
            ++failures;
            if (failures == 1 || failures % 30 == 0)
                log::warn(
                    "notifier",
                    std::string("LISTEN connection lost, reconnecting (polling covers the gap): ") +
                        e.what());
            check_mailbox(std::chrono::milliseconds(std::min(1000, 100 * failures)));
            continue;
        }
        // Only look when something is there: a receive with a zero timeout costs a trip through
        // CAF's clock thread, thousands of times a second under load.
        if (self->has_next_message())
            self->receive([&](stop_atom) {
                running = false;
                return true;
            });
    }
}

} // namespace

caf::actor spawn_notifier(caf::actor_system& sys, std::shared_ptr<const Config> cfg,
                          claimer_actor claimer, sse_broadcaster_actor broadcaster,
                          std::shared_ptr<std::promise<void>> ready) {
    return sys.spawn<caf::detached>(notifier, std::move(cfg), claimer, broadcaster,
                                    std::move(ready));
}

} // namespace conveyor
