// `telegram`: one message through the Bot API's sendMessage (libcurl).
// Payload: {"chat_id": str|int, "text": str, ...the optional sendMessage fields of kOptional}
// (https://core.telegram.org/bots/api#sendmessage), forwarded as given; any other field is
// refused, so that a misspelt option is not dropped without a word.
#include <algorithm>

#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"

namespace conveyor {

namespace {

using nlohmann::json;

constexpr long kRequestTimeoutMs = 30000;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;

enum class Kind { string, integer, boolean, array, object };

struct Field {
    const char* name;
    Kind kind;
};

// The optional parameters of sendMessage, with their Bot API types. The Bot API checks their
// contents; only the JSON type is checked here.
const Field kOptional[] = {
    {"business_connection_id", Kind::string},
    {"message_thread_id", Kind::integer},
    {"parse_mode", Kind::string},
    {"entities", Kind::array},
    {"link_preview_options", Kind::object},
    {"disable_web_page_preview", Kind::boolean},
    {"disable_notification", Kind::boolean},
    {"protect_content", Kind::boolean},
    {"allow_paid_broadcast", Kind::boolean},
    {"message_effect_id", Kind::string},
    {"reply_parameters", Kind::object},
    {"reply_markup", Kind::object},
};

const char* describe(Kind k) {
    switch (k) {
    case Kind::string:
        return "a string";
    case Kind::integer:
        return "an integer";
    case Kind::boolean:
        return "a boolean";
    case Kind::array:
        return "an array";
    case Kind::object:
        return "an object";
    }
    return "?";
}

bool has_kind(const json& v, Kind k) {
    switch (k) {
    case Kind::string:
        return v.is_string();
    case Kind::integer:
        return v.is_number_integer();
    case Kind::boolean:
        return v.is_boolean();
    case Kind::array:
        return v.is_array();
    case Kind::object:
        return v.is_object();
    }
    return false;
}

const Field* optional_field(const std::string& name) {
    auto it = std::find_if(std::begin(kOptional), std::end(kOptional),
                           [&](const Field& f) { return name == f.name; });
    return it == std::end(kOptional) ? nullptr : it;
}

class TelegramHandler final : public Handler {
  public:
    std::optional<std::string> validate(const json& p) const override {
        auto chat = p.find("chat_id");
        if (chat == p.end())
            return "chat_id is required (a string or an integer)";
        if (chat->is_string()) {
            if (chat->get<std::string>().empty())
                return "chat_id must not be empty";
        } else if (!chat->is_number_integer()) {
            return "chat_id must be a string or an integer";
        }
        auto text = p.find("text");
        if (text == p.end() || !text->is_string())
            return "text is required (a string)";
        if (text->get<std::string>().empty())
            return "text must not be empty";
        for (const auto& [name, value] : p.items()) {
            if (name == "chat_id" || name == "text")
                continue;
            const Field* f = optional_field(name);
            if (!f)
                return "unknown field '" + curl::excerpt(name, 100) +
                       "' (sendMessage takes chat_id, text, " + optional_names() + ")";
            if (!has_kind(value, f->kind))
                return name + " must be " + describe(f->kind);
        }
        return std::nullopt;
    }

    HandlerResult run(const json& p, const HandlerContext& ctx) const override {
        const std::string& token = ctx.config.telegram_bot_token;
        if (token.empty())
            return HandlerResult::fail("TELEGRAM_BOT_TOKEN is not configured");
        auto timeout = curl::timeout_ms(kRequestTimeoutMs, ctx);
        if (!timeout)
            return HandlerResult::retry("timeout: no time left for the request");

        std::string base = ctx.config.telegram_api_url;
        while (!base.empty() && base.back() == '/')
            base.pop_back();
        std::string url = base + "/bot" + token + "/sendMessage";
        // validate() admitted only sendMessage's own fields: the payload is the request.
        json request = json::object();
        for (const auto& [name, value] : p.items())
            if (name == "chat_id" || name == "text" || optional_field(name))
                request[name] = value;
        std::string body = request.dump();

        curl::Easy easy;
        CURL* h = easy.get();
        curl::SlistPtr headers;
        curl::append(headers, "Content-Type: application/json");
        curl::append(headers, "Expect:");
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "conveyor-telegram/1");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, *timeout);
        curl::CappedBody response(kMaxResponseBytes);
        curl::collect_body(h, response);

        // Every message below is scrubbed of the token: libcurl's texts and Telegram's own
        // descriptions may quote the URL, which contains it.
        CURLcode code = curl::perform(h, ctx);
        if (code != CURLE_OK && !curl::stopped_at_cap(code, response))
            return curl::network_failure(code, "telegram: " + easy.describe(code, token));
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);

        auto answer = json::parse(response.data, nullptr, false);
        if (answer.is_object() && answer.value("ok", false) == true)
            return HandlerResult::ok();
        if (answer.is_object() && answer.contains("ok")) {
            long error_code = status;
            if (auto e = answer.find("error_code"); e != answer.end() && e->is_number_integer())
                error_code = e->get<long>();
            std::string description = "no description";
            if (auto d = answer.find("description"); d != answer.end() && d->is_string())
                description = d->get<std::string>();
            std::string msg = "telegram error " + std::to_string(error_code) + ": " +
                              curl::excerpt(curl::scrub(description, token), 512);
            if (error_code == 429 || error_code >= 500)
                return HandlerResult::retry(msg);
            return HandlerResult::fail(msg);
        }
        // Not a Bot API answer: a proxy or load balancer in between, so judge by the status.
        std::string msg = "telegram: unexpected HTTP " + std::to_string(status) +
                          " response: " + curl::excerpt(curl::scrub(response.data, token), 512);
        if (status >= 400 && status < 500 && status != 408 && status != 429)
            return HandlerResult::fail(msg);
        return HandlerResult::retry(msg);
    }

  private:
    static std::string optional_names() {
        std::string out;
        for (const auto& f : kOptional)
            out += (out.empty() ? "" : ", ") + std::string(f.name);
        return out;
    }
};

} // namespace

std::unique_ptr<Handler> make_telegram_handler() {
    return std::make_unique<TelegramHandler>();
}

} // namespace conveyor
