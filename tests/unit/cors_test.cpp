#include <catch2/catch.hpp>

#include "http/cors.hpp"

using namespace conveyor;

TEST_CASE("cors origins: a comma list of origins, canonical in lower case") {
    auto p =
        std::get<CorsPolicy>(parse_cors_origins(" https://App.example.com , http://[::1]:8080"));
    CHECK_FALSE(p.any);
    CHECK(p.origins == std::vector<std::string>{"https://app.example.com", "http://[::1]:8080"});
    CHECK(cors_allow_origin(p, "https://app.example.com") == "https://app.example.com");
    CHECK(cors_allow_origin(p, "http://[::1]:8080") == "http://[::1]:8080");
    CHECK_FALSE(cors_allow_origin(p, "https://app.example.com:443"));
    CHECK_FALSE(cors_allow_origin(p, "https://evil.example.com"));
    CHECK_FALSE(cors_allow_origin(p, "null"));
    CHECK_FALSE(cors_allow_origin(p, ""));
}

TEST_CASE("cors origins: * allows any origin") {
    auto p = std::get<CorsPolicy>(parse_cors_origins("*"));
    CHECK(p.any);
    CHECK(cors_allow_origin(p, "http://x.example") == "*");
    CHECK_FALSE(cors_allow_origin(CorsPolicy{}, "http://x.example"));
}

TEST_CASE("cors origins: what is not an origin is refused with a reason") {
    for (const char* bad :
         {"app.example.com", "https://app.example.com/", "https://a/b", "https://",
          "https://host:", "https://host:99999x", "://host", "ht tp://host", ",", ""}) {
        INFO(bad);
        auto r = parse_cors_origins(bad);
        REQUIRE(std::holds_alternative<std::string>(r));
        CHECK_FALSE(std::get<std::string>(r).empty());
    }
}
