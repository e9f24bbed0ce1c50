#pragma once
// The files compiled into the binary by cmake/embed_files.cmake: the dashboard under /ui/ and
// the OpenAPI document at /openapi.json.
#include <string_view>
#include <vector>

namespace conveyor {

struct StaticFile {
    const char* path;         // the URL path, e.g. /ui/index.html
    const char* content_type; // e.g. text/html; charset=utf-8
    std::string_view body;
};

const std::vector<StaticFile>& static_files();

} // namespace conveyor
