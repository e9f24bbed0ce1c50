#pragma once
// Reading GET /metrics (Prometheus text format) in tests.
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "support/http_client.hpp"

namespace testsupport {

// The value of the sample `name` whose labels include all of `labels`, summed over the matching
// series; none when no series matches.
inline std::optional<double> metric(const std::string& text, const std::string& name,
                                    const std::map<std::string, std::string>& labels = {}) {
    std::istringstream in(text);
    std::string line;
    std::optional<double> sum;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        auto end = line.find_first_of("{ ");
        if (end == std::string::npos || line.substr(0, end) != name)
            continue;
        bool match = true;
        for (const auto& [k, v] : labels)
            match = match && line.find(k + "=\"" + v + "\"") != std::string::npos;
        if (!match)
            continue;
        sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

inline std::string scrape(const std::string& base_url,
                          const std::vector<std::string>& headers = {}) {
    return http_get(base_url + "/metrics", headers).body;
}

} // namespace testsupport
