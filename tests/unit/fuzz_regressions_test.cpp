// Inputs found by the libFuzzer targets in tests/fuzz, kept as regression tests (minimized).
#include <catch2/catch.hpp>

#include "handlers/registry.hpp"
#include "http/request_parsing.hpp"
#include "json_util.hpp"
#include "support/registry.hpp"

using namespace conveyor;

namespace {
const HandlerRegistry& registry() {
    return testsupport::builtin_registry();
}
std::string with_nul(const char* before, const char* after) {
    return std::string(before) + '\0' + after;
}
} // namespace

// fuzz_json_depth, input "9\0][[": nlohmann::json treats a NUL byte as the end of its input, so
// "9\0<anything>" parsed as 9. Request bodies with a raw NUL (never valid JSON) were accepted
// with everything after the NUL silently dropped: {"job_type":"noop"}\0{...} made a noop job.
TEST_CASE("fuzz: a raw NUL byte in a body is malformed JSON, not the end of the document") {
    for (const auto& body :
         {with_nul(R"({"job_type":"noop"})", ""),
          with_nul(R"({"job_type":"noop"})", R"({"job_type":"webhook"})"),
          with_nul(R"({"job_type":"noop"})", "]]]garbage"), with_nul("9", "][[")}) {
        auto one = parse_submission(body, registry());
        REQUIRE(std::holds_alternative<ApiError>(one));
        CHECK(std::get<ApiError>(one).status == 400);
        CHECK(std::get<ApiError>(one).code == "malformed_json");
    }
    auto batch = parse_batch(with_nul(R"({"jobs":[{"job_type":"noop"}]})", "x"), registry());
    REQUIRE(std::holds_alternative<ApiError>(batch));
    CHECK(std::get<ApiError>(batch).code == "malformed_json");
    // Escaped NULs inside strings are valid JSON, but jsonb cannot store them: refused as an
    // invalid payload that names where the NUL is.
    auto escaped =
        parse_submission(R"({"job_type":"noop","payload":{"s":"a\u0000b"}})", registry());
    REQUIRE(std::holds_alternative<ApiError>(escaped));
    CHECK(std::get<ApiError>(escaped).status == 422);
    CHECK(std::get<ApiError>(escaped).message.find("payload.s contains a NUL") == 0);
}

// fuzz_json_depth: the depth guard also counts brackets after a NUL byte. Over-counting is the
// safe direction; it must never count fewer levels than the parser would build for a document it
// accepts.
TEST_CASE("fuzz: json_nesting_depth counts past a NUL byte and never under-counts") {
    // Unbalanced closers lower the running count; such text is refused by the parser anyway.
    CHECK(json_nesting_depth(with_nul("9", "][[")) == 1);
    CHECK(json_nesting_depth(with_nul("9", "[[")) == 2);
    CHECK(json_nesting_depth("]]]][[") == 0);
    CHECK(json_nesting_depth(R"(["\"[[[", [[]]])") == 3);
    CHECK(json_nesting_depth(R"({"k\\":"[[", "l":[{}]})") == 3);
}

// fuzz_cursor: created_at positions with 19 digits are refused by decode_cursor (it takes at most
// 18, i.e. up to the year ~33658), so encode_cursor output round-trips only below 10^18 µs.
TEST_CASE("fuzz: cursor positions round-trip up to 18 digits and refuse 19") {
    const std::string id = "01a21663-bcf9-7563-b322-1fbe79dbc39a";
    auto back = decode_cursor(encode_cursor(Cursor{999999999999999999LL, id}));
    REQUIRE(back);
    CHECK(back->created_us == 999999999999999999LL);
    CHECK(back->id == id);
    CHECK_FALSE(decode_cursor(encode_cursor(Cursor{3906929990234370143LL, id})));
    CHECK_FALSE(decode_cursor("_" + id));
}
