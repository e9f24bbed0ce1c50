#include "handlers/curl_util.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

namespace conveyor::curl {

namespace {

// Executors of blocking handlers run on short-lived threads, so thread-local handles would
// never be reused; one share gives every transfer the same DNS cache and TLS sessions instead.
class Share {
  public:
    Share() : share_(curl_share_init()) {
        if (!share_)
            return;
        curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &Share::lock);
        curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
        curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
        curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    CURLSH* get() const { return share_; }

  private:
    static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
        static_cast<Share*>(self)->mutexes_[index(data)].lock();
    }
    static void unlock(CURL*, curl_lock_data data, void* self) {
        static_cast<Share*>(self)->mutexes_[index(data)].unlock();
    }
    static std::size_t index(curl_lock_data data) {
        auto i = static_cast<std::size_t>(data);
        return i < CURL_LOCK_DATA_LAST ? i : 0;
    }

    CURLSH* share_;
    std::mutex mutexes_[CURL_LOCK_DATA_LAST];
};

Share& share() {
    // Never destroyed: executor threads may still be finishing transfers while the process
    // exits, and the share must outlive every easy handle that uses it.
    static Share* s = new Share();
    return *s;
}

// Connections are kept by multi handles, each lent to one transfer at a time: libcurl does not
// support a connection cache used by concurrent threads (CURL_LOCK_DATA_CONNECT in a share;
// seen here as heap corruption under parallel webhooks). A finished transfer's connection waits
// in its multi handle for the next transfer that borrows it; the last one returned is lent
// first, so sequential jobs reuse one connection. There are never more multi handles than
// transfers that ran at the same time.
class MultiPool {
  public:
    CURLM* take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (free_.empty())
            return curl_multi_init();
        CURLM* m = free_.back();
        free_.pop_back();
        return m;
    }
    void give_back(CURLM* m) {
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(m);
    }

  private:
    std::mutex mutex_;
    std::vector<CURLM*> free_;
};

MultiPool& multis() {
    static MultiPool* pool = new MultiPool(); // never destroyed, as share()
    return *pool;
}

std::size_t write_capped(char* data, std::size_t size, std::size_t n, void* user) {
    auto& body = *static_cast<CappedBody*>(user);
    std::size_t len = size * n;
    std::size_t room = body.cap - std::min(body.cap, body.data.size());
    body.data.append(data, std::min(len, room));
    if (len > room) {
        body.truncated = true;
        return 0; // makes libcurl stop with CURLE_WRITE_ERROR
    }
    return len;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned min;
    if (b < 0x80)
        return 1;
    if ((b & 0xE0) == 0xC0)
        len = 2, min = 0x80;
    else if ((b & 0xF0) == 0xE0)
        len = 3, min = 0x800;
    else if ((b & 0xF8) == 0xF0)
        len = 4, min = 0x10000;
    else
        return 0;
    if (i + len > s.size())
        return 0;
    unsigned cp = b & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
        auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

} // namespace

void append(SlistPtr& list, const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (!grown)
        throw std::bad_alloc();
    list.release();
    list.reset(grown);
}

Easy::Easy() : handle_(curl_easy_init()) {
    if (!handle_)
        throw std::bad_alloc();
    CURL* h = handle_.get();
    // Signals would hit arbitrary threads of the actor system (DNS timeouts use SIGALRM).
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_);
    if (share().get())
        curl_easy_setopt(h, CURLOPT_SHARE, share().get());
}

std::string Easy::describe(CURLcode code, const std::string& secret) const {
    std::string detail = error_[0] ? error_ : curl_easy_strerror(code);
    return excerpt(scrub(detail, secret), 500);
}

CURLcode perform(CURL* h, const HandlerContext& ctx) {
    struct GiveBack {
        void operator()(CURLM* m) const { multis().give_back(m); }
    };
    std::unique_ptr<CURLM, GiveBack> multi(multis().take());
    if (!multi || curl_multi_add_handle(multi.get(), h) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    CURLcode result = CURLE_OK;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
            result = CURLE_OUT_OF_MEMORY;
            break;
        }
        if (running == 0) {
            int left = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left))
                if (msg->msg == CURLMSG_DONE)
                    result = msg->data.result;
            break;
        }
        if (ctx.cancelled()) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
    }
    curl_multi_remove_handle(multi.get(), h);
    return result;
}

std::optional<long> timeout_ms(long own_limit_ms, const HandlerContext& ctx) {
    long left = static_cast<long>(ctx.remaining().count());
    if (left <= 0)
        return std::nullopt;
    return std::max(1L, std::min(own_limit_ms, left));
}

void collect_body(CURL* h, CappedBody& body) {
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &write_capped);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
}

bool stopped_at_cap(CURLcode code, const CappedBody& body) {
    return code == CURLE_WRITE_ERROR && body.truncated;
}

std::string excerpt(std::string_view s, std::size_t max_bytes) {
    std::string out;
    out.reserve(std::min(s.size(), max_bytes));
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = utf8_sequence(s, i);
        if (len == 0) {
            len = 1;
            if (out.size() + 1 > max_bytes)
                break;
            out += '?';
        } else {
            if (out.size() + len > max_bytes)
                break;
            auto b = static_cast<unsigned char>(s[i]);
            if (len == 1 && (b < 0x20 || b == 0x7F) && b != '\t' && b != '\n')
                out += '?';
            else
                out.append(s.substr(i, len));
        }
        i += len;
    }
    return out;
}

std::string scrub(std::string s, const std::string& secret) {
    if (secret.empty())
        return s;
    for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at + 3))
        s.replace(at, secret.size(), "***");
    return s;
}

bool has_crlf(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

HandlerResult network_failure(CURLcode code, const std::string& what) {
    if (code == CURLE_OPERATION_TIMEDOUT)
        return HandlerResult::retry("timeout: " + what);
    return HandlerResult::retry(what);
}

} // namespace conveyor::curl
