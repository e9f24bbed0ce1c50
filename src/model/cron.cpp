#include "model/cron.hpp"

#include <cctype>
#include <optional>
#include <vector>

namespace conveyor {

bool CronExpr::runs_on(unsigned month, unsigned day, unsigned weekday) const {
    if (!months.test(month))
        return false;
    bool dom = days_of_month.test(day), dow = weekdays.test(weekday % 7);
    return any_day_of_month || any_weekday ? dom && dow : dom || dow;
}

namespace {

struct Field {
    const char* name;
    int lo, hi;
    const char* const* names; // lo-based names (months from 1, weekdays from 0), or null
    int name_count;
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

const Field kFields[] = {
    {"minute", 0, 59, nullptr, 0},           {"hour", 0, 23, nullptr, 0},
    {"day-of-month", 1, 31, nullptr, 0},     {"month", 1, 12, kMonthNames, 12},
    {"day-of-week", 0, 7, kWeekdayNames, 7},
};

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A number (at most 3 digits, so no overflow) or a name of the field.
std::optional<int> value_of(const std::string& s, const Field& f) {
    if (s.empty() || s.size() > 3)
        return std::nullopt;
    bool digits = true;
    for (char c : s)
        digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits)
        return std::stoi(s);
    auto l = lower(s);
    for (int i = 0; i < f.name_count; ++i)
        if (l == f.names[i])
            return f.lo + i;
    return std::nullopt;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

// Sets the field's values of one comma-separated item; an error message when it is invalid.
std::optional<std::string> apply_item(const std::string& item, const Field& f,
                                      std::vector<bool>& set) {
    auto where = [&] { return std::string(f.name) + " field '" + item + "': "; };
    std::string base = item, step_text;
    if (auto slash = item.find('/'); slash != std::string::npos) {
        base = item.substr(0, slash);
        step_text = item.substr(slash + 1);
        if (step_text.empty() || step_text.find('/') != std::string::npos)
            return where() + "a step is one number after '/'";
    }
    int lo = f.lo, hi = f.hi;
    if (base != "*") {
        auto dash = base.find('-');
        auto first = value_of(base.substr(0, dash), f);
        if (!first)
            return where() + "'" + base.substr(0, dash) + "' is not a number" +
                   (f.names ? " or a name" : "");
        lo = *first;
        hi = step_text.empty() ? lo : f.hi; // `a/step` runs from a to the end
        if (dash != std::string::npos) {
            auto last = value_of(base.substr(dash + 1), f);
            if (!last)
                return where() + "'" + base.substr(dash + 1) + "' is not a number" +
                       (f.names ? " or a name" : "");
            hi = *last;
        }
        if (lo < f.lo || lo > f.hi || hi < f.lo || hi > f.hi)
            return where() + "out of range " + std::to_string(f.lo) + "-" + std::to_string(f.hi);
        if (lo > hi)
            return where() + "a range must run upwards";
    }
    int step = 1;
    if (!step_text.empty()) {
        bool digits = step_text.size() <= 3;
        for (char c : step_text)
            digits = digits && std::isdigit(static_cast<unsigned char>(c));
        step = digits ? std::stoi(step_text) : 0;
        if (step < 1 || step > f.hi - f.lo + 1)
            return where() + "the step must be a number in 1.." + std::to_string(f.hi - f.lo + 1);
    }
    for (int v = lo; v <= hi; v += step)
        set[static_cast<size_t>(v)] = true;
    return std::nullopt;
}

const char* nickname(const std::string& l) {
    if (l == "@yearly" || l == "@annually")
        return "0 0 1 1 *";
    if (l == "@monthly")
        return "0 0 1 * *";
    if (l == "@weekly")
        return "0 0 * * 0";
    if (l == "@daily" || l == "@midnight")
        return "0 0 * * *";
    if (l == "@hourly")
        return "0 * * * *";
    return nullptr;
}

} // namespace

std::variant<CronExpr, std::string> parse_cron(const std::string& input) {
    if (input.size() > kMaxCronLength)
        return std::string("longer than ") + std::to_string(kMaxCronLength) + " characters";
    std::vector<std::string> fields;
    std::string cur;
    for (char c : input) {
        if (c == ' ' || c == '\t') {
            if (!cur.empty())
                fields.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty())
        fields.push_back(cur);
    if (fields.size() == 1 && fields[0][0] == '@') {
        auto expanded = nickname(lower(fields[0]));
        if (!expanded)
            return "'" + fields[0] +
                   "' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, "
                   "@hourly";
        return parse_cron(expanded);
    }
    if (fields.size() != 5)
        return "needs 5 fields (minute hour day-of-month month day-of-week) or an @nickname, got " +
               std::to_string(fields.size());
    CronExpr e;
    std::vector<bool> sets[5];
    for (size_t i = 0; i < 5; ++i) {
        sets[i].assign(static_cast<size_t>(kFields[i].hi) + 1, false);
        for (const auto& item : split(fields[i], ',')) {
            if (item.empty())
                return std::string(kFields[i].name) + " field '" + fields[i] +
                       "': an empty list item";
            if (auto error = apply_item(item, kFields[i], sets[i]))
                return *error;
        }
    }
    for (size_t v = 0; v < 60; ++v)
        e.minutes[v] = sets[0][v];
    for (size_t v = 0; v < 24; ++v)
        e.hours[v] = sets[1][v];
    for (size_t v = 1; v <= 31; ++v)
        e.days_of_month[v] = sets[2][v];
    for (size_t v = 1; v <= 12; ++v)
        e.months[v] = sets[3][v];
    for (size_t v = 0; v <= 7; ++v)
        if (sets[4][v])
            e.weekdays[v % 7] = true;
    // Vixie cron: a day field counts as `*` when it starts with one (`*/2` too).
    e.any_day_of_month = fields[2][0] == '*';
    e.any_weekday = fields[4][0] == '*';
    return e;
}

} // namespace conveyor
