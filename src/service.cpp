#include "service.hpp"

#include <future>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include <curl/curl.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/claimer.hpp"
#include "actors/cleaner.hpp"
#include "actors/maintainer.hpp"
#include "actors/notifier.hpp"
#include "actors/reader.hpp"
#include "actors/reaper.hpp"
#include "actors/scheduler.hpp"
#include "actors/sse_broadcaster.hpp"
#include "actors/stats_sampler.hpp"
#include "actors/writer.hpp"
#include "http/server.hpp"
#include "log.hpp"
#include "store/connection.hpp"
#include "store/migrations.hpp"
#include "store/statement.hpp"

namespace conveyor {

namespace {

std::string make_worker_id() {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    std::random_device rd;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(rd() & 0xffff));
    return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

int migrate(const Config& cfg) {
    auto conn = store::connect_with_retry(cfg.database_url, store::Role::listener,
                                          std::chrono::seconds(30));
    int n = store::apply_migrations(*conn);
    log::info("migrate",
              n == 0 ? "schema is up to date" : "applied " + std::to_string(n) + " migrations");
    return n;
}

} // namespace

int run_migrations(const Config& cfg) {
    try {
        migrate(cfg);
        return 0;
    } catch (const std::exception& e) {
        log::error("migrate", std::string("cannot migrate the database: ") + e.what());
        return 1;
    }
}

namespace {

// Asks each actor in turn to finish and answer; the next one is asked only after the previous
// answered, so what one hands on (results, events) reaches the next before it stops.
template <typename Handle>
void stop_and_wait(caf::scoped_actor& self, const Handle& actor, const char* what) {
    self->request(actor, caf::infinite, stop_atom::value)
        .receive([](bool) {},
                 [&](caf::error& e) {
                     log::error("service",
                                std::string("stopping the ") + what + " failed: " + to_string(e));
                 });
}

} // namespace

int run_service(const Config& config, const HandlerRegistry& registry) {
    // Signals are taken synchronously by this thread; every thread started below inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // Every connection and SSE stream is a descriptor: use all the system allows, not the
    // conservative default soft limit of 1024.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }

    if (run_migrations(config) != 0)
        return 1;
    // Shared by every actor and executor: valid for as long as any of them still runs.
    auto cfg = std::make_shared<const Config>(config);

    caf::actor_system_config sys_cfg;
    sys_cfg.set("scheduler.max-threads", 2);
    // Work sharing waits on a condition variable when idle; work stealing polls with short
    // sleeps, which on a small machine costs more CPU in context switches than it saves.
    sys_cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{sys_cfg};

    auto worker = make_worker_id();
    auto writer = spawn_writer(sys, cfg, worker);
    auto controller = spawn_controller(sys, cfg);
    auto keeper = spawn_idempotency_keeper(sys, cfg, writer, controller);
    std::vector<reader_actor> readers;
    for (int i = 0; i < cfg->db_readers; ++i)
        readers.push_back(spawn_reader(sys, cfg));
    auto claimer = spawn_claimer(sys, cfg, registry, worker, writer);
    auto reaper = spawn_reaper(sys, cfg, claimer);
    auto subscribers = std::make_shared<std::atomic<int>>(0);
    auto broadcaster = spawn_sse_broadcaster(sys, cfg, subscribers);
    auto window = std::make_shared<std::promise<void>>();
    auto window_loaded = window->get_future();
    auto notifier = spawn_notifier(sys, cfg, claimer, broadcaster, window);
    // Maintenance (issue 13): the lease that lets one process run the reaper, cleaner, schedules.
    auto maintainer = spawn_maintainer(sys, cfg, worker);
    auto cleaner = spawn_cleaner(sys, cfg);
    auto scheduler = spawn_scheduler(sys, cfg, registry);
    bool resigned = false;
    // A stopping process gives up the lease first, so another takes over while this one drains.
    auto resign = [&] {
        if (resigned)
            return;
        resigned = true;
        caf::scoped_actor self{sys};
        stop_and_wait(self, maintainer, "maintainer");
    };
    auto stats = spawn_stats_sampler(sys, cfg); // the database gauges of /metrics

    // The one shutdown protocol: stop_atom to each actor, in the order work flows (claims stop,
    // results are written, their events are announced, streams close, readers go last).
    auto stop_all = [&] {
        resign();
        caf::scoped_actor self{sys};
        stop_and_wait(self, scheduler, "scheduler");
        stop_and_wait(self, cleaner, "cleaner");
        stop_and_wait(self, reaper, "reaper");
        stop_and_wait(self, stats, "stats sampler");
        stop_and_wait(self, claimer, "claimer");
        stop_and_wait(self, writer, "writer");
        stop_and_wait(self, controller, "controller");
        stop_and_wait(self, keeper, "idempotency keeper");
        // The last completions and releases were just committed: let their events reach this
        // process's streams (the notifier reads within milliseconds) before closing them.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop_and_wait(self, notifier, "notifier");
        stop_and_wait(self, broadcaster, "broadcaster");
        for (auto& r : readers)
            stop_and_wait(self, r, "reader");
    };

    // Serve once live events start: a stream opened earlier would miss the first ones.
    // Bounded: a notifier that cannot read (a misconfigured pooler) must not keep the API down.
    if (window_loaded.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        log::warn("service", "the event log is not loaded after 5 s; serving anyway (streams "
                             "opened now may miss events until it is)");
    HttpServer http(cfg, registry, writer, controller, readers, broadcaster, subscribers);
    http.set_scheduler(scheduler);
    http.set_idempotency_keeper(keeper);
    try {
        http.start();
    } catch (const std::exception& e) {
        log::error("http", "cannot listen on " + cfg->host + ":" + std::to_string(cfg->port) +
                               ": " + e.what());
        stop_all();
        return 1;
    }
    log::info(
        "service", "worker " + worker + " running with WORKER_CONCURRENCY=" +
                       std::to_string(cfg->worker_concurrency) + ", job types: " + [&] {
                           std::string s;
                           for (auto& n : registry.names())
                               s += (s.empty() ? "" : ",") + n;
                           return s;
                       }());

    int sig = 0;
    sigwait(&signals, &sig);
    log::info("service", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                             ": stopping claims, finishing running jobs");

    // Refuse submissions, then drain the workers: their results reach the writer before the
    // claimer answers the drain.
    http.set_draining();
    resign();
    {
        caf::scoped_actor self{sys};
        self->request(claimer, caf::infinite, drain_atom::value)
            .receive([](bool) {},
                     [](caf::error& e) { log::error("service", "drain failed: " + to_string(e)); });
    }
    stop_all();
    http.stop();
    log::info("service", "stopped cleanly");
    // Handlers still blocked past the grace period had their attempts released; do not wait.
    std::fflush(stderr);
    _exit(0);
}

int conveyor_main(int argc, char** argv, void (*extra)(HandlerRegistry&, const Config&)) {
    ParsedArgs args;
    try {
        args = parse_config(argc, argv);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "conveyor: configuration error: %s\n", e.what());
        return 2;
    }
    if (args.command == Command::help) {
        std::cout << help_text();
        return 0;
    }
    log::set_level(args.config.log_level);
    log::set_format(args.config.log_format);
    // libcurl's global state must be set up once, before any thread uses it.
    curl_global_init(CURL_GLOBAL_ALL);
    if (args.config.database_url.empty()) {
        std::fprintf(
            stderr, "conveyor: configuration error: DATABASE_URL: not set (./scripts/run starts an "
                    "embedded PostgreSQL and sets it for you)\n");
        return 2;
    }
    // Before any connection opens: what a connection sets up depends on it.
    store::set_pooled(args.config.pooled());
    if (args.command == Command::migrate)
        return run_migrations(args.config);
    HandlerRegistry registry;
    register_builtin_handlers(registry, args.config);
    if (extra)
        extra(registry, args.config);
    return run_service(args.config, registry);
}

} // namespace conveyor
