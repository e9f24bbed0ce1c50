// What recording a metric costs on the hot path: each recorder of src/metrics/metrics.hpp called
// the way the claimer, executor and writer call it, per job, timed over many calls on 1 and on 2
// threads at once (the CAF scheduler has 2). Prints nanoseconds per call. bench/README.md sets
// these beside the per-job budget of the drain scenario.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "metrics/metrics.hpp"

using namespace conveyor;
using clock_type = std::chrono::steady_clock;

namespace {

template <typename F> double ns_per_call(int threads, long calls, F f) {
    std::vector<std::thread> ts;
    auto start = clock_type::now();
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            const std::string queue = t % 2 ? "mail" : "default", type = "noop";
            for (long i = 0; i < calls; ++i)
                f(queue, type, i);
        });
    for (auto& t : ts)
        t.join();
    std::chrono::duration<double, std::nano> took = clock_type::now() - start;
    return took.count() / static_cast<double>(calls);
}

} // namespace

int main(int argc, char** argv) {
    long calls = argc > 1 ? std::stol(argv[1]) : 2000000;
    struct Case {
        const char* name;
        void (*f)(const std::string&, const std::string&, long);
    };
    const Case cases[] = {
        {"job_enqueued (writer)",
         [](const std::string& q, const std::string& t, long) { metrics::job_enqueued(q, t); }},
        {"job_claimed (claimer)",
         [](const std::string& q, const std::string&, long i) {
             metrics::job_claimed(q, 0.001 * static_cast<double>(i % 1000));
         }},
        {"job_finished (executor)",
         [](const std::string& q, const std::string& t, long i) {
             metrics::job_finished(q, t, metrics::Finish::done,
                                   1e-6 * static_cast<double>(i % 100));
         }},
        {"set_worker_running_jobs",
         [](const std::string&, const std::string&, long i) {
             metrics::set_worker_running_jobs(static_cast<int>(i % 10));
         }},
    };
    std::printf("%-26s %12s %12s\n", "recorder", "1 thread ns", "2 threads ns");
    for (const auto& c : cases)
        std::printf("%-26s %12.1f %12.1f\n", c.name, ns_per_call(1, calls, c.f),
                    ns_per_call(2, calls, c.f));
    // A scrape, for scale: what GET /metrics spends building the text.
    auto start = clock_type::now();
    std::size_t bytes = 0;
    for (int i = 0; i < 1000; ++i)
        bytes += metrics::scrape(0).size();
    std::chrono::duration<double, std::micro> took = clock_type::now() - start;
    std::printf("scrape: %.1f us for %zu bytes of text\n", took.count() / 1000, bytes / 1000);
    return 0;
}
