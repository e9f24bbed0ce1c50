#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http/replies.hpp"

using namespace conveyor;
using nlohmann::json;

namespace {
std::string header(const HttpReply& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name)
            return v;
    return "";
}
std::string error_code(const HttpReply& r) {
    return json::parse(r.body)["error"]["code"].get<std::string>();
}
} // namespace

TEST_CASE("outcome mapping: one insert is 201 with Location, a batch an array") {
    auto one = to_http(Inserted{{{"x", R"({"id":"x"})", false}}, false});
    CHECK(one.status == 201);
    CHECK(one.body == R"({"id":"x"})");
    CHECK(header(one, "Location") == "/jobs/x");
    auto duplicate = to_http(Inserted{{{"y", R"({"id":"y","duplicate":true})", true}}, false});
    CHECK(duplicate.status == 200);
    CHECK(header(duplicate, "Location") == "/jobs/y");
    auto batch = to_http(Inserted{{{"a", "1", false}, {"b", "2", true}}, true});
    CHECK(batch.status == 201);
    CHECK(batch.body == "[1,2]");
    CHECK(header(batch, "Location").empty());
}

TEST_CASE("outcome mapping: a page links to the next one only when more exist") {
    ListQuery q;
    q.limit = 2;
    q.statuses = {JobStatus::done};
    auto last = to_http(Page{{"{}"}, q, std::nullopt});
    CHECK(last.status == 200);
    CHECK(last.body == "[{}]");
    CHECK(header(last, "Link").empty());
    auto more = to_http(Page{{"{}", "{}"}, q, Cursor{42, "id"}});
    CHECK(header(more, "Link") == "</jobs?status=done&limit=2&cursor=42_id>; rel=\"next\"");
}

TEST_CASE("outcome mapping: failures get their status, code and a Retry-After on 503") {
    auto down = to_http(StoreUnavailable{});
    CHECK(down.status == 503);
    CHECK(error_code(down) == "database_unavailable");
    CHECK(header(down, "Retry-After") == "1");
    auto closing = to_http(ShuttingDown{});
    CHECK(closing.status == 503);
    CHECK(error_code(closing) == "shutting_down");
    CHECK(header(closing, "Retry-After") == "1");
    auto failed = to_http(StoreFailed{});
    CHECK(failed.status == 500);
    CHECK(error_code(failed) == "internal_error");
    auto missing = to_http(NotFound{"job", "abc"});
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body)["error"]["message"] == "no job with id abc");
}

TEST_CASE("outcome mapping: a conflict names the job's status") {
    auto r = to_http(Conflict{JobStatus::processing, "job is processing"});
    CHECK(r.status == 409);
    auto body = json::parse(r.body);
    CHECK(body["status"] == "processing");
    CHECK(body["error"]["code"] == "conflict");
}

TEST_CASE("outcome mapping: health is 200 ok or 503 naming the database") {
    auto ok = to_http(Health{true});
    CHECK(ok.status == 200);
    CHECK(json::parse(ok.body) == json{{"status", "ok"}, {"database", "ok"}, {"leader", false}});
    CHECK(json::parse(to_http(Health{true, true}).body)["leader"] == true);
    auto bad = to_http(Health{false});
    CHECK(bad.status == 503);
    auto body = json::parse(bad.body);
    CHECK(body["database"] == "unreachable");
    CHECK(body["error"]["code"] == "database_unavailable");
}
