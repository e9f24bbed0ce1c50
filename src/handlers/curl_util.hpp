#pragma once
// libcurl plumbing shared by the network job types (email, webhook, telegram).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "handlers/handler.hpp"

namespace conveyor::curl {

struct EasyDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends to a list owned by `list`; throws std::bad_alloc when libcurl cannot.
void append(SlistPtr& list, const std::string& line);

// One transfer's easy handle with the options every network handler needs: no signals, the
// process-wide share (connection cache, DNS, TLS sessions) and an error buffer.
class Easy {
  public:
    Easy();
    CURL* get() const { return handle_.get(); }
    const char* error_buffer() const { return error_; }
    // Describes a failed transfer: libcurl's detailed message when it left one, else its
    // generic text for `code`, with `secret` scrubbed before it is shortened so that no part
    // of it can survive the cut.
    std::string describe(CURLcode code, const std::string& secret = "") const;

  private:
    std::unique_ptr<CURL, EasyDeleter> handle_;
    char error_[CURL_ERROR_SIZE] = {};
};

// The transfer's total timeout: the handler's own limit capped by what is left of the attempt.
// Empty when the deadline has already passed.
std::optional<long> timeout_ms(long own_limit_ms, const HandlerContext& ctx);

// Response body collected up to a cap; the transfer is cut once the cap is exceeded, since
// only an excerpt is ever used.
struct CappedBody {
    explicit CappedBody(std::size_t cap) : cap(cap) {}
    std::size_t cap;
    std::string data;
    bool truncated = false;
};
// Installs the write callback that fills `body`.
void collect_body(CURL* h, CappedBody& body);
// True when `code` only reports that collect_body() stopped reading at its cap.
bool stopped_at_cap(CURLcode code, const CappedBody& body);

// Fits `s` for last_error: at most `max_bytes`, valid UTF-8 (PostgreSQL rejects anything
// else), control characters other than tab and newline replaced by '?'.
std::string excerpt(std::string_view s, std::size_t max_bytes);

// Replaces every occurrence of `secret` (when non-empty) with "***".
std::string scrub(std::string s, const std::string& secret);

bool has_crlf(std::string_view s);

// Runs the transfer like curl_easy_perform, but looks at ctx.cancelled() every 50 ms and aborts
// it then (CURLE_ABORTED_BY_CALLBACK): a cancelled job's connection is closed at once, not when
// the remote end answers. (libcurl's progress callback can slow to once a second while idle.)
CURLcode perform(CURL* h, const HandlerContext& ctx);

// Transient failure for a transfer error; timeouts are reported as "timeout: ...".
HandlerResult network_failure(CURLcode code, const std::string& what);

} // namespace conveyor::curl
