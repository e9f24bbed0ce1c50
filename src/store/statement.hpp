#pragma once
// How the statements of src/store/sql/ reach the server. On a session connection, as named
// prepared statements: parsed and planned once per connection (the claim's generic plan is what
// keeps a drain fast). Behind a transaction-pooling PgBouncer, a session's prepared statements
// stay on whichever server connection parsed them, and Debian 12's PgBouncer 1.18 predates
// max_prepared_statements (1.21): there every statement is sent unnamed, with its parameters,
// in one round trip (PQexecParams), and depends on nothing left by an earlier transaction.
#include <utility>

#include <pqxx/pqxx>

namespace conveyor::store {

// Set once at start-up, before any connection opens: LISTEN_DATABASE_URL set to another URL than
// DATABASE_URL says that DATABASE_URL goes through a transaction pooler (SPEC §12).
void set_pooled(bool pooled);
bool pooled();

// The text of the statement `name` (a file of src/store/sql/); throws for an unknown name.
const char* statement_sql(const char* name);

template <typename... Args>
pqxx::result exec(pqxx::transaction_base& tx, const char* name, Args&&... args) {
    if (pooled())
        return tx.exec_params(statement_sql(name), std::forward<Args>(args)...);
    return tx.exec_prepared(name, std::forward<Args>(args)...);
}

} // namespace conveyor::store
