// LOG_FORMAT: the line format (text, json) and a real service writing JSON lines.
#include <catch2/catch.hpp>

#include "log.hpp"
#include "support/fake_http_server.hpp"
#include "support/handler_api.hpp"

using namespace handlertest;
using namespace testsupport;
using conveyor::LogFormat;
using conveyor::LogLevel;

namespace {
// 2026-11-26T05:02:39.123Z
const auto kWhen = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795669359123));

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
        out.push_back(text.substr(at, nl - at));
    if (at < text.size())
        out.push_back(text.substr(at));
    return out;
}
} // namespace

TEST_CASE("log: text lines are `<time> <level> <component>: <message>`") {
    CHECK(conveyor::log::format_line(LogFormat::text, kWhen, LogLevel::warn, "http",
                                     "two\nlines\r") ==
          "2026-11-26T05:02:39.123Z warn http: two lines \n");
}

TEST_CASE("log: json lines are one object with ts, level, component and msg") {
    std::string message = "quote \" backslash \\ tab \t newline \n ctrl \x01 zoë";
    auto line =
        conveyor::log::format_line(LogFormat::json, kWhen, LogLevel::error, "webhook", message);
    REQUIRE(line.size() > 1);
    CHECK(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    CHECK(line == R"({"ts":"2026-11-26T05:02:39.123Z","level":"error","component":"webhook",)"
                  R"("msg":"quote \" backslash \\ tab \t newline \n ctrl \u0001 zoë"})"
                  "\n");
    auto j = json::parse(line);
    CHECK(j == json{{"ts", "2026-11-26T05:02:39.123Z"},
                    {"level", "error"},
                    {"component", "webhook"},
                    {"msg", message}});

    // Bytes that are not UTF-8 (a remote server's reply quoted in an error) do not throw and do
    // not break the line.
    auto bad = conveyor::log::format_line(LogFormat::json, kWhen, LogLevel::info, "c",
                                          std::string("a\xff\xfe"
                                                      "b"));
    CHECK(json::parse(bad)["msg"] == "a\xEF\xBF\xBD\xEF\xBF\xBD"
                                     "b");
}

TEST_CASE("log: LOG_FORMAT=json makes every line the service writes a JSON object") {
    // The failure message (logged at debug) quotes the reply: quotes, backslash, newline.
    FakeHttpServer hook([](const Request&, int) {
        return Response{404, "he said \"no\" \\ twice\nsecond line"};
    });
    TestDatabase db;
    auto s = start_service(db, {{"LOG_FORMAT", "json"}});
    auto id = submit(*s, "webhook", {{"url", hook.url("/gone")}}, 1);
    wait_for(*s, id, "failed");
    auto lines = lines_of(s->log());
    REQUIRE(lines.size() >= 2);
    bool listening = false, quoted = false;
    for (const auto& l : lines) {
        INFO(l);
        auto j = json::parse(l, nullptr, false);
        REQUIRE(j.is_object());
        CHECK(j.size() == 4);
        CHECK(j["ts"].is_string());
        CHECK(j["level"].is_string());
        CHECK(j["component"].is_string());
        CHECK(j["msg"].is_string());
        listening = listening || contains(j["msg"].get<std::string>(), "listening on");
        quoted =
            quoted || contains(j["msg"].get<std::string>(), "he said \"no\" \\ twice\nsecond line");
    }
    CHECK(listening);
    CHECK(quoted);
}

TEST_CASE("log: text is the default format") {
    TestDatabase db;
    auto s = start_service(db);
    auto lines = lines_of(s->log());
    REQUIRE_FALSE(lines.empty());
    for (const auto& l : lines) {
        INFO(l);
        CHECK(l.size() > 25);
        CHECK(l[0] != '{');
        CHECK(l.substr(23, 2) == "Z ");
    }
}
