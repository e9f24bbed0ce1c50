#pragma once
// The claimer's record of this process's WORKER_CONCURRENCY slots: which attempts hold one, until
// when each may run, and which have overrun. Plain data, no actors, so it is tested directly.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/job.hpp"

namespace conveyor {

class SlotBook {
  public:
    using clock = std::chrono::steady_clock;

    explicit SlotBook(int slots) : slots_(slots) {}

    int free() const { return slots_ - static_cast<int>(running_.size()); }
    bool idle() const { return running_.empty(); }
    std::size_t running() const { return running_.size(); }

    using CancelFlag = std::shared_ptr<std::atomic<bool>>;
    // An attempt of a job in `queue` starts and holds a slot until it is released. Returns the
    // flag its handler watches: set when the job's cancellation is requested.
    CancelFlag take(AttemptRef attempt, std::string queue, clock::time_point deadline);
    // Tells the running attempts of job `id` to stop. Returns whether one runs here.
    bool cancel(const std::string& id);
    // The attempt's handler returned: its slot is free. Returns the job's queue, or nothing when
    // the attempt held no slot.
    std::optional<std::string> release(const AttemptRef& attempt);
    // The queue of a running attempt, or nothing.
    std::optional<std::string> queue_of(const AttemptRef& attempt) const;

    // Attempts past their deadline that were not reported before; each is reported once. They
    // keep their slots: a handler cannot be interrupted, and until it returns it still runs.
    std::vector<AttemptRef> overdue(clock::time_point now);

    // Ids of the jobs running here (a job appears once per attempt that holds a slot).
    std::vector<std::string> job_ids() const;
    std::vector<AttemptRef> attempts() const;
    // Slots held by attempts of jobs in `queue`.
    int running_in(const std::string& queue) const;

  private:
    struct Slot {
        AttemptRef attempt;
        std::string queue;
        clock::time_point deadline;
        CancelFlag cancel;
        bool overdue = false;
    };
    int slots_;
    // Keyed by attempt, not job: a timed-out attempt whose handler has not returned yet still
    // holds its slot when the job's next attempt is claimed here meanwhile. Never more than
    // WORKER_CONCURRENCY entries, so a vector is the fastest map.
    std::vector<Slot> running_;
};

} // namespace conveyor
