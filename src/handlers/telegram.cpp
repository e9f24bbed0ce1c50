// `telegram`: one message through the Bot API's sendMessage (libcurl).
// Payload: {"chat_id": str|int, "text": str}
#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"

namespace conveyor {

namespace {

using nlohmann::json;

constexpr long kRequestTimeoutMs = 30000;
constexpr std::size_t kMaxResponseBytes = 64 * 1024;

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
        std::string body = json{{"chat_id", p["chat_id"]}, {"text", p["text"]}}.dump();

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
        CURLcode code = curl_easy_perform(h);
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
};

} // namespace

std::unique_ptr<Handler> make_telegram_handler() {
    return std::make_unique<TelegramHandler>();
}

} // namespace conveyor
