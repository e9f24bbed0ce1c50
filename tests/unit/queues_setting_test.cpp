#include <catch2/catch.hpp>

#include "config.hpp"
#include "model/job.hpp"
#include "model/queues_setting.hpp"

using namespace conveyor;

namespace {
std::string error_of(const std::string& text, int concurrency = 10) {
    auto r = parse_queues_setting(text, concurrency);
    REQUIRE(std::holds_alternative<std::string>(r));
    return std::get<std::string>(r);
}
} // namespace

TEST_CASE("QUEUES: * is every queue, a list names queues with optional caps") {
    CHECK(std::get<std::vector<QueueCap>>(parse_queues_setting("*", 10)).empty());
    auto list =
        std::get<std::vector<QueueCap>>(parse_queues_setting("mail:5,default:3,reports", 10));
    CHECK(list == std::vector<QueueCap>{{"mail", 5}, {"default", 3}, {"reports", std::nullopt}});
    CHECK(std::get<std::vector<QueueCap>>(parse_queues_setting("a:10", 10)).size() == 1);
}

TEST_CASE("QUEUES: syntax errors, bad caps, duplicates and caps over WORKER_CONCURRENCY") {
    CHECK(error_of("").find("empty") != std::string::npos);
    CHECK(error_of("mail;reports").find("'mail;reports' is not a queue name") == 0);
    CHECK(error_of("mail,").find("'' is not a queue name") == 0);
    CHECK(error_of("Mail").find("is not a queue name") != std::string::npos);
    CHECK(error_of("mail:0").find("must be an integer >= 1") != std::string::npos);
    CHECK(error_of("mail:x").find("must be an integer >= 1") != std::string::npos);
    CHECK(error_of("mail:").find("must be an integer >= 1") != std::string::npos);
    CHECK(error_of("mail:1:2").find("must be an integer >= 1") != std::string::npos);
    CHECK(error_of("mail,mail:2").find("listed twice") != std::string::npos);
    CHECK(error_of("a:6,b:5", 10).find("add up to 11") != std::string::npos);
}

TEST_CASE("QUEUES: a bad value stops start-up with a line naming the variable") {
    std::map<std::string, std::string> env = {{"QUEUES", "a:8,b:8"}, {"WORKER_CONCURRENCY", "10"}};
    try {
        parse_config(0, nullptr, &env);
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).rfind("QUEUES: 'a:8,b:8': the caps add up to 16", 0) == 0);
    }
    env = {{"QUEUES", "mail:2,reports"}};
    auto cfg = parse_config(0, nullptr, &env).config;
    CHECK(cfg.queues == std::vector<QueueCap>{{"mail", 2}, {"reports", std::nullopt}});
}

TEST_CASE("queue names: a-z, 0-9 and _ . - after a letter or digit, at most 64") {
    CHECK(is_queue_name("mail"));
    CHECK(is_queue_name("0reports.v2_x-y"));
    CHECK(is_queue_name(std::string(64, 'a')));
    CHECK_FALSE(is_queue_name(std::string(65, 'a')));
    CHECK_FALSE(is_queue_name(""));
    CHECK_FALSE(is_queue_name("-mail"));
    CHECK_FALSE(is_queue_name("Mail"));
    CHECK_FALSE(is_queue_name("ma il"));
}
