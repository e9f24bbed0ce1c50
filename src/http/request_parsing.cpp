#include "http/request_parsing.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include <nlohmann/json.hpp>

#include "json_util.hpp"
#include "uuid.hpp"

namespace conveyor {

using nlohmann::json;

namespace {

ApiError invalid(const std::string& code, const std::string& message) {
    return {422, code, message};
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::variant<json, ApiError> parse_json(const std::string& body) {
    if (json_nesting_depth(body) > kMaxJsonDepth)
        return ApiError{400, "malformed_json",
                        "JSON is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || body.find('\0') != std::string::npos) // nlohmann stops at NUL
        return ApiError{400, "malformed_json", "request body is not valid JSON"};
    return j;
}

// The first key of `object` not in `known`: misspelled fields are refused, not ignored.
std::optional<std::string> unknown_field(const json& object,
                                         const std::vector<std::string>& known) {
    for (auto it = object.begin(); it != object.end(); ++it)
        if (std::find(known.begin(), known.end(), it.key()) == known.end())
            return it.key();
    return std::nullopt;
}

// PostgreSQL's jsonb cannot hold \u0000: the path of the first string or key holding one,
// relative to `v` ("", ".key", "[3].key (a key)"). The path is built only on the way back from a
// hit: building it on the way down copied a long key's path once per element below it, which
// made one 300,000-character key over a 240,000-element array take seconds.
std::optional<std::string> nul_path(const json& v) {
    auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
    if (v.is_string())
        return has_nul(v.get_ref<const std::string&>()) ? std::optional<std::string>("")
                                                        : std::nullopt;
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (has_nul(it.key()))
                return " (a key)";
            if (auto p = nul_path(it.value()))
                return "." + it.key() + *p;
        }
    } else if (v.is_array()) {
        for (size_t i = 0; i < v.size(); ++i)
            if (auto p = nul_path(v[i]))
                return "[" + std::to_string(i) + "]" + *p;
    }
    return std::nullopt;
}

// `where` prefixes messages in batches: "jobs[3]: ".
std::variant<NewJob, ApiError> validate_job(const json& j, const HandlerRegistry& registry,
                                            const std::string& where) {
    if (!j.is_object())
        return invalid("invalid_job", where + "a job must be a JSON object");
    static const std::vector<std::string> fields = {
        "job_type", "payload", "max_attempts", "run_at", "queue", "priority", "unique_key"};
    if (auto unknown = unknown_field(j, fields))
        return invalid("unknown_field",
                       where + "unknown field '" + *unknown + "'; a job has " + join(fields));
    NewJob job;
    auto type = j.find("job_type");
    if (type == j.end() || !type->is_string())
        return invalid("invalid_job_type", where + "job_type is required and must be a string");
    job.job_type = type->get<std::string>();
    const Handler* handler = registry.find(job.job_type);
    if (!handler)
        return invalid("unknown_job_type", where + "unknown job_type '" + job.job_type +
                                               "'; registered types: " + join(registry.names()));
    json payload = json::object();
    if (auto p = j.find("payload"); p != j.end()) {
        if (!p->is_object())
            return invalid("invalid_payload", where + "payload must be a JSON object");
        payload = *p;
    }
    if (auto path = nul_path(payload))
        return invalid("invalid_payload",
                       where + "payload" + *path +
                           " contains a NUL character (\\u0000), which cannot be stored");
    if (auto err = handler->validate(payload))
        return invalid("invalid_payload", where + *err);
    job.payload = payload.dump(-1, ' ', false, json::error_handler_t::replace);
    if (auto m = j.find("max_attempts"); m != j.end()) {
        if (!m->is_number_integer() || m->get<long long>() < 1 || m->get<long long>() > 100)
            return invalid("invalid_max_attempts",
                           where + "max_attempts must be an integer in 1..100");
        job.max_attempts = static_cast<int>(m->get<long long>());
    }
    if (auto r = j.find("run_at"); r != j.end() && !r->is_null()) {
        if (!r->is_string() || !is_rfc3339(r->get<std::string>()))
            return invalid("invalid_run_at",
                           where +
                               "run_at must be an RFC 3339 timestamp such as 2026-11-26T05:02:39Z");
        job.run_at = r->get<std::string>();
    }
    if (auto q = j.find("queue"); q != j.end() && !q->is_null()) {
        if (!q->is_string() || !is_queue_name(q->get<std::string>()))
            return invalid("invalid_queue",
                           where + "queue must be a string of 1..64 of a-z, 0-9, _ . - starting "
                                   "with a letter or digit");
        job.queue = q->get<std::string>();
    }
    if (auto p = j.find("priority"); p != j.end() && !p->is_null()) {
        if (!p->is_number_integer() || p->get<long long>() < 0 || p->get<long long>() > 9)
            return invalid("invalid_priority",
                           where + "priority must be an integer in 0..9 (0 runs first)");
        job.priority = static_cast<int>(p->get<long long>());
    }
    if (auto k = j.find("unique_key"); k != j.end() && !k->is_null()) {
        if (!k->is_string() || k->get<std::string>().empty() ||
            k->get<std::string>().size() > kMaxKeyLength)
            return invalid("invalid_unique_key", where + "unique_key must be a string of 1.." +
                                                     std::to_string(kMaxKeyLength) + " characters");
        job.unique_key = k->get<std::string>();
    }
    job.id = new_uuid_v7();
    return job;
}

std::vector<std::string> split_commas(const std::string& v) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        auto comma = v.find(',', start);
        out.push_back(
            v.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos)
            return out;
        start = comma + 1;
    }
}

int digits(const std::string& s, size_t pos, size_t n) {
    if (pos + n > s.size())
        return -1;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

} // namespace

std::variant<NewJob, ApiError> parse_submission(const std::string& body,
                                                const HandlerRegistry& registry) {
    auto parsed = parse_json(body);
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    return validate_job(std::get<json>(parsed), registry, "");
}

std::variant<std::vector<NewJob>, ApiError> parse_batch(const std::string& body,
                                                        const HandlerRegistry& registry) {
    auto parsed = parse_json(body);
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    const json& j = std::get<json>(parsed);
    if (!j.is_object() || !j.contains("jobs") || !j["jobs"].is_array())
        return invalid("invalid_batch", "body must be an object with a \"jobs\" array");
    if (auto unknown = unknown_field(j, {"jobs"}))
        return invalid("unknown_field", "unknown field '" + *unknown + "'; a batch has only jobs");
    const json& arr = j["jobs"];
    if (arr.empty() || arr.size() > kMaxBatch)
        return invalid("invalid_batch", "\"jobs\" must hold 1.." + std::to_string(kMaxBatch) +
                                            " jobs, got " + std::to_string(arr.size()));
    std::vector<NewJob> out;
    out.reserve(arr.size());
    // (queue, unique_key) -> index of its first use: one batch cannot hold a key twice.
    std::map<std::pair<std::string, std::string>, size_t> keys;
    for (size_t i = 0; i < arr.size(); ++i) {
        auto r = validate_job(arr[i], registry, "jobs[" + std::to_string(i) + "]: ");
        if (auto* e = std::get_if<ApiError>(&r))
            return *e;
        auto& job = std::get<NewJob>(r);
        if (job.unique_key) {
            auto [it, fresh] = keys.emplace(std::make_pair(job.queue, *job.unique_key), i);
            if (!fresh)
                return invalid("invalid_unique_key",
                               "jobs[" + std::to_string(i) + "]: unique_key '" + *job.unique_key +
                                   "' is already used by jobs[" + std::to_string(it->second) +
                                   "] of this batch");
        }
        out.push_back(std::move(job));
    }
    return out;
}

std::variant<std::optional<int>, ApiError> parse_queue_patch(const std::string& body) {
    auto parsed = parse_json(body);
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    const json& j = std::get<json>(parsed);
    if (!j.is_object() || !j.contains("concurrency_limit"))
        return invalid("invalid_queue_patch",
                       "body must be an object with \"concurrency_limit\": an integer or null");
    if (auto unknown = unknown_field(j, {"concurrency_limit"}))
        return invalid("unknown_field", "unknown field '" + *unknown +
                                            "'; a queue patch has only concurrency_limit");
    const json& limit = j["concurrency_limit"];
    if (limit.is_null())
        return std::optional<int>{};
    if (!limit.is_number_integer() || limit.get<long long>() < 0 ||
        limit.get<long long>() > 1000000)
        return invalid("invalid_concurrency_limit",
                       "concurrency_limit must be null or an integer in 0..1000000");
    return std::optional<int>(static_cast<int>(limit.get<long long>()));
}

bool is_rfc3339(const std::string& s) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    if (s.size() < 20 || s.size() > 40)
        return false;
    int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
    int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59)
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] + (month == 2 && leap ? 1 : 0))
        return false;
    size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
        size_t start = ++pos;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])))
            ++pos;
        if (pos == start || pos - start > 9)
            return false;
    }
    if (pos >= s.size())
        return false;
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size())
        return true;
    if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
        int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
        return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
    }
    return false;
}

std::string encode_cursor(const Cursor& c) {
    return std::to_string(c.created_us) + "_" + c.id;
}

std::optional<Cursor> decode_cursor(const std::string& s) {
    auto sep = s.find('_');
    if (sep == std::string::npos || sep == 0 || sep > 18)
        return std::nullopt;
    Cursor c;
    for (size_t i = 0; i < sep; ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return std::nullopt;
    c.created_us = std::stoll(s.substr(0, sep));
    c.id = s.substr(sep + 1);
    if (!is_uuid(c.id))
        return std::nullopt;
    return c;
}

std::variant<ListQuery, ApiError>
parse_list_query(const std::map<std::string, std::string>& params) {
    ListQuery q;
    for (const auto& [key, value] : params) {
        if (key == "status") {
            for (const auto& item : split_commas(value)) {
                auto status = parse_job_status(item);
                if (!status)
                    return ApiError{400, "invalid_query",
                                    "status must be " + job_status_list() +
                                        " (comma separated), got '" + item + "'"};
                q.statuses.push_back(*status);
            }
        } else if (key == "job_type") {
            for (const auto& item : split_commas(value)) {
                if (item.empty())
                    return ApiError{400, "invalid_query", "job_type must not be empty"};
                q.job_types.push_back(item);
            }
        } else if (key == "queue") {
            for (const auto& item : split_commas(value)) {
                if (!is_queue_name(item))
                    return ApiError{400, "invalid_query",
                                    "queue '" + item + "' is not a queue name"};
                q.queues.push_back(item);
            }
        } else if (key == "unique_key") {
            if (value.empty() || value.size() > kMaxKeyLength)
                return ApiError{400, "invalid_query",
                                "unique_key must be 1.." + std::to_string(kMaxKeyLength) +
                                    " characters"};
            q.unique_key = value;
        } else if (key == "limit") {
            bool ok = !value.empty() && value.size() <= 4;
            for (char c : value)
                ok = ok && std::isdigit(static_cast<unsigned char>(c));
            int n = ok ? std::stoi(value) : 0;
            if (n < 1 || n > 1000)
                return ApiError{400, "invalid_query", "limit must be an integer in 1..1000"};
            q.limit = n;
        } else if (key == "cursor") {
            auto c = decode_cursor(value);
            if (!c)
                return ApiError{
                    400, "invalid_query",
                    "cursor is malformed; use the cursor from the previous page's Link header"};
            q.cursor = *c;
        } else {
            return ApiError{400, "invalid_query",
                            "unknown query parameter '" + key +
                                "'; use status, job_type, queue, unique_key, limit, cursor"};
        }
    }
    return q;
}

std::variant<EventFilter, ApiError>
parse_event_query(const std::map<std::string, std::string>& params) {
    EventFilter f;
    for (const auto& [key, value] : params) {
        if (key == "access_token")
            continue;
        if (key != "job_id" && key != "job_type" && key != "status" && key != "queue")
            return ApiError{400, "invalid_query",
                            "unknown query parameter '" + key +
                                "'; use job_id, job_type, queue, status"};
        for (const auto& item : split_commas(value)) {
            if (key == "job_id") {
                if (!is_uuid(item))
                    return ApiError{400, "invalid_query", "job_id '" + item + "' is not a UUID"};
                std::string lower = item;
                for (auto& c : lower)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                f.job_ids.insert(lower);
            } else if (key == "job_type") {
                if (item.empty())
                    return ApiError{400, "invalid_query", "job_type must not be empty"};
                f.job_types.insert(item);
            } else if (key == "queue") {
                if (!is_queue_name(item))
                    return ApiError{400, "invalid_query",
                                    "queue '" + item + "' is not a queue name"};
                f.queues.insert(item);
            } else {
                auto status = parse_job_status(item);
                if (!status)
                    return ApiError{400, "invalid_query",
                                    "status must be " + job_status_list() + ", got '" + item + "'"};
                f.statuses.insert(*status);
            }
        }
    }
    return f;
}

std::optional<std::uint64_t> parse_last_event_id(const std::string& s) {
    if (s.empty() || s.size() > 19)
        return std::nullopt;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return std::nullopt;
    return std::stoull(s);
}

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string next_page_query(const ListQuery& q, const Cursor& next) {
    std::string out;
    if (!q.statuses.empty()) {
        std::string st;
        for (auto s : q.statuses)
            st += (st.empty() ? "" : ",") + std::string(to_string(s));
        out += "status=" + url_encode(st) + "&";
    }
    if (!q.queues.empty()) {
        std::string names;
        for (const auto& n : q.queues)
            names += (names.empty() ? "" : ",") + n;
        out += "queue=" + url_encode(names) + "&";
    }
    if (!q.job_types.empty()) {
        std::string types;
        for (const auto& t : q.job_types)
            types += (types.empty() ? "" : ",") + t;
        out += "job_type=" + url_encode(types) + "&";
    }
    if (q.unique_key)
        out += "unique_key=" + url_encode(*q.unique_key) + "&";
    out += "limit=" + std::to_string(q.limit) + "&cursor=" + url_encode(encode_cursor(next));
    return out;
}

bool is_json_content_type(const std::string& value) {
    std::string v;
    for (char c : value) {
        if (c == ';')
            break;
        if (!std::isspace(static_cast<unsigned char>(c)))
            v += static_cast<char>(std::tolower(c));
    }
    return v == "application/json";
}

std::variant<json, ApiError> parse_json_body(const std::string& body) {
    return parse_json(body);
}

std::variant<NewJob, ApiError> parse_job_object(const json& job, const HandlerRegistry& registry,
                                                const std::string& where) {
    return validate_job(job, registry, where);
}

} // namespace conveyor

namespace conveyor {

namespace {
// A filter value: "a,b" or ["a", "b"]; returns nothing when it is neither.
std::optional<std::vector<std::string>> filter_values(const json& v) {
    std::vector<std::string> out;
    if (v.is_string()) {
        out = split_commas(v.get<std::string>());
    } else if (v.is_array() && !v.empty()) {
        for (const auto& item : v) {
            if (!item.is_string())
                return std::nullopt;
            out.push_back(item.get<std::string>());
        }
    } else {
        return std::nullopt;
    }
    return out;
}
} // namespace

std::variant<ActionTarget, ApiError> parse_bulk_target(const std::string& body) {
    auto parsed = parse_json(body);
    if (auto* e = std::get_if<ApiError>(&parsed))
        return *e;
    const json& j = std::get<json>(parsed);
    if (!j.is_object())
        return invalid("invalid_bulk", "body must be an object with \"ids\" or \"filter\"");
    if (auto unknown = unknown_field(j, {"ids", "filter"}))
        return invalid("unknown_field",
                       "unknown field '" + *unknown + "'; a bulk action has ids or filter");
    if (j.contains("ids") == j.contains("filter"))
        return invalid("invalid_bulk", "give exactly one of \"ids\" and \"filter\"");
    ActionTarget target;
    if (j.contains("ids")) {
        const json& ids = j["ids"];
        if (!ids.is_array() || ids.empty() || ids.size() > kMaxBulkIds)
            return invalid("invalid_ids", "ids must be an array of 1.." +
                                              std::to_string(kMaxBulkIds) + " job ids");
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (!ids[i].is_string() || !is_uuid(ids[i].get<std::string>()))
                return invalid("invalid_ids",
                               "ids[" + std::to_string(i) + "] is not a job id (a UUID)");
            target.ids.push_back(ids[i].get<std::string>());
        }
        return target;
    }
    const json& f = j["filter"];
    if (!f.is_object() || f.empty())
        return invalid("invalid_filter",
                       "filter must be an object with at least one of status, queue, job_type");
    if (auto unknown = unknown_field(f, {"status", "queue", "job_type"}))
        return invalid("unknown_field", "unknown filter key '" + *unknown +
                                            "'; a filter has status, queue, job_type");
    BulkFilter filter;
    for (const auto& [key, value] : f.items()) {
        auto values = filter_values(value);
        if (!values)
            return invalid("invalid_filter",
                           "filter." + key +
                               " must be a string (comma lists allowed) or an array of strings");
        for (const auto& v : *values) {
            if (key == "status") {
                auto status = parse_job_status(v);
                if (!status)
                    return invalid("invalid_filter",
                                   "filter.status: '" + v + "' is not one of " + job_status_list());
                filter.statuses.push_back(*status);
            } else if (key == "queue") {
                if (!is_queue_name(v))
                    return invalid("invalid_filter",
                                   "filter.queue: '" + v + "' is not a queue name");
                filter.queues.push_back(v);
            } else {
                if (v.empty())
                    return invalid("invalid_filter", "filter.job_type must not be empty");
                filter.job_types.push_back(v);
            }
        }
    }
    target.filter = std::move(filter);
    return target;
}

std::variant<std::string, ApiError> parse_idempotency_key(const std::string& value) {
    auto bad = [](const std::string& why) {
        return ApiError{400, "invalid_idempotency_key", "Idempotency-Key " + why};
    };
    std::string key;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        for (size_t i = 1; i + 1 < value.size(); ++i) {
            char c = value[i];
            if (c == '"')
                return bad("has an unescaped '\"' inside its quotes");
            if (c == '\\') {
                if (i + 2 >= value.size() || (value[i + 1] != '"' && value[i + 1] != '\\'))
                    return bad("has a '\\' that escapes neither '\"' nor '\\'");
                c = value[++i];
            }
            key += c;
        }
    } else {
        key = value;
    }
    if (key.empty())
        return bad("is empty");
    if (key.size() > kMaxIdempotencyKey)
        return bad("is " + std::to_string(key.size()) + " characters long; at most " +
                   std::to_string(kMaxIdempotencyKey) + " are allowed");
    for (char c : key)
        if (c < 0x20 || c > 0x7e)
            return bad("must be printable ASCII");
    return key;
}

} // namespace conveyor
