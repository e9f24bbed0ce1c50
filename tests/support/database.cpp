#include "support/database.hpp"

#include <atomic>
#include <random>
#include <unistd.h>

#include "support/env.hpp"

namespace testsupport {

std::string with_dbname(const std::string& url, const std::string& dbname) {
    auto scheme = url.find("://");
    auto slash = url.find('/', scheme + 3);
    auto query = url.find('?', slash);
    return url.substr(0, slash + 1) + dbname +
           (query == std::string::npos ? "" : url.substr(query));
}

TestDatabase::TestDatabase() : admin_url_(env_or_fail("CONVEYOR_TEST_PG_URL")) {
    static std::atomic<int> counter{0};
    std::random_device rd;
    name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(rd() % 100000);
    url_ = with_dbname(admin_url_, name_);
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec0("CREATE DATABASE " + name_);
}

TestDatabase::~TestDatabase() {
    try {
        pqxx::connection c(admin_url_);
        pqxx::nontransaction tx(c);
        tx.exec0("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
}

pqxx::result TestDatabase::exec(const std::string& sql) const {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    auto r = tx.exec(sql);
    tx.commit();
    return r;
}

long long TestDatabase::count(const std::string& sql) const {
    auto r = exec(sql);
    return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<long long>();
}

std::string TestDatabase::text(const std::string& sql) const {
    auto r = exec(sql);
    return r.empty() || r[0][0].is_null() ? std::string() : std::string(r[0][0].c_str());
}

} // namespace testsupport
