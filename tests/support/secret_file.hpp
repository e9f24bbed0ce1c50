#pragma once
// A temporary file holding a secret, for the *_FILE settings; removed when it goes out of scope.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace testsupport {

struct SecretFile {
    std::string path;
    explicit SecretFile(const std::string& content) {
        char tmpl[] = "/tmp/conveyor-secret.XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        close(fd);
        path = tmpl;
    }
    ~SecretFile() { std::remove(path.c_str()); }
    SecretFile(const SecretFile&) = delete;
    SecretFile& operator=(const SecretFile&) = delete;
};

} // namespace testsupport
