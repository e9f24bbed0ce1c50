// `email`: one message over SMTP (libcurl) to every address in to, cc and bcc.
// Payload: {"to": str|[str], "subject": str, "text"?: str, "html"?: str, "cc"?: str|[str],
//           "bcc"?: str|[str]} with at least one of text and html.
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>
#include <variant>
#include <vector>

#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"

namespace conveyor {

namespace {

using nlohmann::json;

// Bare addresses only: a display name would need quoting rules that are easy to get wrong,
// and these characters are what could turn an address into extra header or envelope syntax.
std::optional<std::string> check_address(const std::string& a, const std::string& field) {
    if (curl::has_crlf(a))
        return field + " must not contain CR or LF";
    auto at = a.rfind('@');
    if (a.size() > 320 || at == std::string::npos || at == 0 || at + 1 == a.size())
        return field + " must be an email address like name@example.com";
    for (unsigned char c : a)
        if (c <= 0x20 || c == 0x7F || std::strchr("<>,;\"()[]\\", c))
            return field + " must be a bare email address (no spaces, names or <>)";
    return std::nullopt;
}

// Reads a `str | [str]` field into `out` (when given); a missing field is an error only when
// `required`.
std::optional<std::string> read_addresses(const json& p, const std::string& name, bool required,
                                          std::vector<std::string>* out) {
    auto it = p.find(name);
    if (it == p.end() || it->is_null())
        return required ? std::optional<std::string>(name + " is required") : std::nullopt;
    if (it->is_string()) {
        if (auto err = check_address(it->get<std::string>(), name))
            return err;
        if (out)
            out->push_back(it->get<std::string>());
        return std::nullopt;
    }
    if (!it->is_array() || it->empty())
        return name + " must be an email address or a non-empty list of them";
    for (std::size_t i = 0; i < it->size(); ++i) {
        std::string field = name + "[" + std::to_string(i) + "]";
        const json& v = (*it)[i];
        if (!v.is_string())
            return field + " must be a string";
        if (auto err = check_address(v.get<std::string>(), field))
            return err;
        if (out)
            out->push_back(v.get<std::string>());
    }
    return std::nullopt;
}

// Recipients of one message, to + cc + bcc: one job must not turn into a mass mailing or an
// SMTP session of thousands of RCPT commands.
constexpr std::size_t kMaxRecipients = 100;

std::size_t address_count(const json& p, const char* name) {
    auto it = p.find(name);
    if (it == p.end() || it->is_null())
        return 0;
    return it->is_array() ? it->size() : 1;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

std::string base64(std::string_view in) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                     (static_cast<unsigned char>(in[i + 1]) << 8) |
                     static_cast<unsigned char>(in[i + 2]);
        for (int s : {18, 12, 6, 0})
            out += abc[(v >> s) & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size())
            v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += abc[(v >> 18) & 63];
        out += abc[(v >> 12) & 63];
        out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// RFC 2047 encoded words for a non-ASCII (or very long) subject, each under the 75-character
// limit and split on UTF-8 character boundaries, folded onto continuation lines.
std::string encode_subject(const std::string& s) {
    bool plain = s.size() <= 900;
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7E)
            plain = false;
    if (plain)
        return s;
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t end = std::min(s.size(), i + 45);
        while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
            --end;
        out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") +
               base64(std::string_view(s).substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

// Quoted-printable keeps every line under SMTP's 998-byte limit and needs no 8BITMIME.
std::string quoted_printable(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    std::size_t line_len = 0;
    auto emit = [&](const std::string& piece) {
        if (line_len + piece.size() > 75) {
            out += "=\r\n";
            line_len = 0;
        }
        out += piece;
        line_len += piece.size();
    };
    auto encoded = [&](unsigned char c) { return std::string{'=', hex[c >> 4], hex[c & 15]}; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            out += "\r\n";
            line_len = 0;
            continue;
        }
        bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
        // A leading dot could be read as the end of DATA by a careless relay.
        if (c == '.' && line_len == 0)
            literal = false;
        emit(literal ? std::string(1, static_cast<char>(c)) : encoded(c));
    }
    return out;
}

std::string rfc5322_date(std::time_t now) {
    static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

struct Sender {
    std::string address; // for MAIL FROM
    std::string header;  // for From:
};

// FROM_EMAIL is either a bare address or `Display Name <address>`.
std::variant<Sender, std::string> parse_sender(const std::string& v) {
    if (curl::has_crlf(v))
        return std::string("FROM_EMAIL must not contain CR or LF");
    auto open = v.rfind('<');
    if (open == std::string::npos || v.empty() || v.back() != '>') {
        if (auto err = check_address(v, "FROM_EMAIL"))
            return *err;
        return Sender{v, v};
    }
    std::string address = v.substr(open + 1, v.size() - open - 2);
    if (auto err = check_address(address, "FROM_EMAIL"))
        return *err;
    std::string name = v.substr(0, open);
    while (!name.empty() && name.back() == ' ')
        name.pop_back();
    while (!name.empty() && name.front() == ' ')
        name.erase(0, 1);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
        name = name.substr(1, name.size() - 2);
    if (name.find_first_of("\"\\<>") != std::string::npos)
        return std::string("FROM_EMAIL: the display name must not contain quotes, \\ or <>");
    if (name.empty())
        return Sender{address, address};
    std::string phrase = encode_subject(name);
    // Encoded words may not sit inside a quoted string; plain names are quoted for commas etc.
    if (phrase == name)
        phrase = "\"" + name + "\"";
    return Sender{address, phrase + " <" + address + ">"};
}

std::string text_part(const std::string& subtype, const std::string& body) {
    return "Content-Type: text/" + subtype +
           "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
           quoted_printable(body) + "\r\n";
}

struct Upload {
    std::string data;
    std::size_t pos = 0;
};

std::size_t read_upload(char* buf, std::size_t size, std::size_t n, void* user) {
    auto& up = *static_cast<Upload*>(user);
    std::size_t len = std::min(size * n, up.data.size() - up.pos);
    std::memcpy(buf, up.data.data() + up.pos, len);
    up.pos += len;
    return len;
}

// libcurl reports only "RCPT failed: 550"; the server's own reply line says why.
int record_reply(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
    if (type == CURLINFO_HEADER_IN) {
        std::string line(data, size);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
        if (line.size() >= 3 && (line[0] == '4' || line[0] == '5'))
            *static_cast<std::string*>(user) = line;
    }
    return 0;
}

class EmailHandler final : public Handler {
  public:
    std::optional<std::string> validate(const json& p) const override {
        if (auto err = read_addresses(p, "to", true, nullptr))
            return err;
        if (auto err = read_addresses(p, "cc", false, nullptr))
            return err;
        if (auto err = read_addresses(p, "bcc", false, nullptr))
            return err;
        auto recipients = address_count(p, "to") + address_count(p, "cc") + address_count(p, "bcc");
        if (recipients > kMaxRecipients)
            return "to, cc and bcc hold " + std::to_string(recipients) + " addresses; at most " +
                   std::to_string(kMaxRecipients) + " are allowed";
        auto subject = p.find("subject");
        if (subject == p.end() || !subject->is_string())
            return "subject is required (a string)";
        if (curl::has_crlf(subject->get<std::string>()))
            return "subject must not contain CR or LF";
        bool has_body = false;
        for (const char* name : {"text", "html"}) {
            auto it = p.find(name);
            if (it == p.end() || it->is_null())
                continue;
            if (!it->is_string())
                return std::string(name) + " must be a string";
            has_body = true;
        }
        if (!has_body)
            return "text or html is required";
        return std::nullopt;
    }

    HandlerResult run(const json& p, const HandlerContext& ctx) const override {
        const Config& cfg = ctx.config;
        if (cfg.smtp_url.empty())
            return HandlerResult::fail("SMTP is not configured (SMTP_URL)");
        std::string from_setting = cfg.from_email;
        if (from_setting.empty() && cfg.smtp_username.find('@') != std::string::npos)
            from_setting = cfg.smtp_username;
        if (from_setting.empty())
            return HandlerResult::fail("FROM_EMAIL is not configured");
        auto sender = parse_sender(from_setting);
        if (auto* err = std::get_if<std::string>(&sender))
            return HandlerResult::fail(*err);
        const Sender& from = std::get<Sender>(sender);

        std::vector<std::string> to, cc, bcc;
        read_addresses(p, "to", true, &to);
        read_addresses(p, "cc", false, &cc);
        read_addresses(p, "bcc", false, &bcc);

        // SMTP has no limit of its own: the attempt's deadline is the only one.
        auto timeout = curl::timeout_ms(ctx.remaining().count(), ctx);
        if (!timeout)
            return HandlerResult::retry("timeout: no time left to send the email");

        Upload upload{message(p, ctx, from, to, cc), 0};
        curl::Easy easy;
        CURL* h = easy.get();
        curl::SlistPtr rcpt;
        // One RCPT per distinct address: some servers reject a repeated recipient.
        std::set<std::string> seen;
        for (const auto* list : {&to, &cc, &bcc})
            for (const auto& a : *list) {
                std::string key = a;
                std::transform(key.begin(), key.end(), key.begin(),
                               [](unsigned char c) { return std::tolower(c); });
                if (seen.insert(key).second)
                    curl::append(rcpt, "<" + a + ">");
            }
        std::string reply;
        curl_easy_setopt(h, CURLOPT_URL, cfg.smtp_url.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        // With credentials, STARTTLS is required: a man in the middle who strips it from the
        // server's EHLO answer would otherwise read SMTP_PASSWORD (issue 17).
        bool credentials = !cfg.smtp_username.empty() || !cfg.smtp_password.empty();
        bool require_tls = credentials && !cfg.smtp_allow_plaintext;
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         static_cast<long>(require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
        if (!cfg.smtp_username.empty())
            curl_easy_setopt(h, CURLOPT_USERNAME, cfg.smtp_username.c_str());
        if (!cfg.smtp_password.empty())
            curl_easy_setopt(h, CURLOPT_PASSWORD, cfg.smtp_password.c_str());
        std::string mail_from = "<" + from.address + ">";
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload);
        curl_easy_setopt(h, CURLOPT_READDATA, &upload);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload.data.size()));
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, *timeout);
        // Only the server's replies are kept (never the AUTH line we send).
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &record_reply);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, &reply);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

        CURLcode code = curl::perform(h, ctx);
        if (code == CURLE_OK)
            return HandlerResult::ok();
        if (code == CURLE_USE_SSL_FAILED)
            return HandlerResult::fail(
                "SMTP: the server does not offer STARTTLS and SMTP credentials are set, so "
                "nothing was sent (SMTP_ALLOW_PLAINTEXT=true allows plain text to a local relay)");

        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        std::string msg = easy.describe(code, cfg.smtp_password);
        if (!reply.empty())
            msg +=
                " (server said: " + curl::excerpt(curl::scrub(reply, cfg.smtp_password), 300) + ")";
        if (status >= 500 && status < 600)
            return HandlerResult::fail("SMTP " + msg);
        if (status >= 400 && status < 500)
            return HandlerResult::retry("SMTP " + msg);
        if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL)
            return HandlerResult::fail("SMTP_URL: " + msg);
        return curl::network_failure(code, "SMTP: " + msg);
    }

  private:
    static std::string message(const json& p, const HandlerContext& ctx, const Sender& from,
                               const std::vector<std::string>& to,
                               const std::vector<std::string>& cc) {
        // Stable across retries, so that a recipient can drop a copy re-sent after an attempt
        // that timed out once the server already had the message.
        std::string domain = from.address.substr(from.address.rfind('@') + 1);
        std::string m = "Date: " + rfc5322_date(std::time(nullptr)) + "\r\n";
        m += "From: " + from.header + "\r\n";
        m += "To: " + join(to, ", ") + "\r\n";
        if (!cc.empty())
            m += "Cc: " + join(cc, ", ") + "\r\n";
        // Bcc recipients are only in the envelope: a Bcc header would show them to everyone.
        m += "Subject: " + encode_subject(p["subject"].get<std::string>()) + "\r\n";
        m += "Message-ID: <" + ctx.job.id + ".conveyor@" + domain + ">\r\n";
        m += "MIME-Version: 1.0\r\n";
        auto body = [&](const char* name) -> std::optional<std::string> {
            auto it = p.find(name);
            if (it == p.end() || !it->is_string())
                return std::nullopt;
            return it->get<std::string>();
        };
        auto text = body("text"), html = body("html");
        if (text && html) {
            // "=_" can never occur in quoted-printable output, so the boundary cannot collide.
            std::string boundary = "=_conveyor_" + ctx.job.id;
            m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
            m += "--" + boundary + "\r\n" + text_part("plain", *text);
            m += "--" + boundary + "\r\n" + text_part("html", *html);
            m += "--" + boundary + "--\r\n";
        } else {
            m += html ? text_part("html", *html) : text_part("plain", *text);
        }
        return m;
    }
};

} // namespace

std::unique_ptr<Handler> make_email_handler() {
    return std::make_unique<EmailHandler>();
}

} // namespace conveyor
