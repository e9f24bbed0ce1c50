#pragma once
#include <string>

#include <pqxx/pqxx>

namespace testsupport {

// A fresh database on the cluster started by scripts/test, dropped when the object goes.
class TestDatabase {
  public:
    TestDatabase();
    ~TestDatabase();
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    const std::string& url() const { return url_; }
    const std::string& name() const { return name_; }
    // Runs SQL in its own connection and transaction; returns the result.
    pqxx::result exec(const std::string& sql) const;
    long long count(const std::string& sql) const;  // first column of the first row as integer
    std::string text(const std::string& sql) const; // first column of the first row as text

  private:
    std::string admin_url_, name_, url_;
};

// Replaces the database name in a libpq URI of the form postgresql://user@/DB?host=...&port=...
std::string with_dbname(const std::string& url, const std::string& dbname);

} // namespace testsupport
