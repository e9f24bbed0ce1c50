// conveyor-testd: the real service plus job types that only tests need. Never installed.
//
// `test` payload: {"sleep_ms": int, "fail": "transient"|"permanent", "fail_attempts": int,
//                  "record": bool}
//   "sleep_attempts": int limits sleeping to attempts <= it.
//   "ignore_deadline": true sleeps the full sleep_ms without looking at the deadline (a handler
//   that overruns: only the claimer's own timer can fail the attempt).
//   "error_bytes": int pads the failure message to that many bytes (large events for SSE tests).
//   sleeps (in slices, honouring the deadline), fails as asked on attempts <= fail_attempts
//   (all attempts when fail_attempts is absent), and with "record" inserts one row per attempt
//   into test_executions(job_id, attempt, pid, started_at, finished_at) for counting.
#include <unistd.h>

#include <thread>

#include <pqxx/pqxx>

#include "service.hpp"

namespace {

using namespace conveyor;

class TestHandler final : public Handler {
  public:
    std::optional<std::string> validate(const nlohmann::json& p) const override {
        if (p.contains("sleep_ms") && !p["sleep_ms"].is_number_integer())
            return "sleep_ms must be an integer";
        if (p.contains("fail") && p["fail"] != "transient" && p["fail"] != "permanent")
            return "fail must be \"transient\" or \"permanent\"";
        if (p.contains("ignore_deadline") && !p["ignore_deadline"].is_boolean())
            return "ignore_deadline must be a boolean";
        return std::nullopt;
    }

    HandlerResult run(const nlohmann::json& p, const HandlerContext& ctx) const override {
        auto started = std::chrono::system_clock::now();
        long sleep_ms =
            ctx.job.attempt <= p.value("sleep_attempts", 1000) ? p.value("sleep_ms", 0L) : 0;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(sleep_ms);
        bool timed_out = false;
        const bool watch_deadline = !p.value("ignore_deadline", false);
        while (std::chrono::steady_clock::now() < until) {
            if (watch_deadline && std::chrono::steady_clock::now() >= ctx.deadline) {
                timed_out = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (p.value("record", false))
            record(ctx, started);
        if (timed_out)
            return HandlerResult::retry("timeout: deadline reached while sleeping");
        if (p.contains("fail")) {
            int fail_attempts = p.value("fail_attempts", 1000);
            if (ctx.job.attempt <= fail_attempts) {
                std::string msg = "test failure on attempt " + std::to_string(ctx.job.attempt);
                auto pad = static_cast<size_t>(p.value("error_bytes", 0L));
                if (msg.size() < pad)
                    msg += " " + std::string(pad - msg.size() - 1, 'e');
                return p["fail"] == "permanent" ? HandlerResult::fail(msg)
                                                : HandlerResult::retry(msg);
            }
        }
        return HandlerResult::ok();
    }

  private:
    static void record(const HandlerContext& ctx, std::chrono::system_clock::time_point started) {
        thread_local std::unique_ptr<pqxx::connection> conn;
        if (!conn || !conn->is_open())
            conn = std::make_unique<pqxx::connection>(ctx.config.database_url);
        auto us = [](std::chrono::system_clock::time_point t) {
            return std::to_string(
                std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch())
                    .count());
        };
        pqxx::work tx(*conn);
        tx.exec_params0(
            "INSERT INTO test_executions (job_id, attempt, pid, started_at, finished_at) VALUES "
            "($1, $2, $3, timestamptz 'epoch' + $4::bigint * interval '1 microsecond',"
            " timestamptz 'epoch' + $5::bigint * interval '1 microsecond')",
            ctx.job.id, ctx.job.attempt, static_cast<int>(getpid()), us(started),
            us(std::chrono::system_clock::now()));
        tx.commit();
    }
};

void register_test_types(HandlerRegistry& registry, const Config&) {
    registry.add("test", std::make_unique<TestHandler>());
}

} // namespace

int main(int argc, char** argv) {
    return conveyor::conveyor_main(argc, argv, register_test_types);
}
