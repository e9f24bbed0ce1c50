// `slack`: posts {"text"} to the Slack incoming webhook named by SLACK_WEBHOOK_URL. This file is
// the example of README "Adding a job type", quoted there whole (a test keeps the two equal).
#include "handlers/builtin.hpp"
#include "handlers/curl_util.hpp"

namespace conveyor {
namespace {

class SlackHandler final : public Handler {
  public:
    std::optional<std::string> validate(const nlohmann::json& p) const override {
        auto text = p.find("text");
        if (text == p.end() || !text->is_string())
            return "text is required (a string)";
        return std::nullopt;
    }

    HandlerResult run(const nlohmann::json& p, const HandlerContext& ctx) const override {
        // A setting is a Config field, read from SLACK_WEBHOOK_URL or --slack-webhook-url.
        const std::string& url = ctx.config.slack_webhook_url;
        if (url.empty())
            return HandlerResult::fail("SLACK_WEBHOOK_URL is not set");
        auto timeout = curl::timeout_ms(10000, ctx);
        if (!timeout)
            return HandlerResult::retry("timeout: no time left");
        std::string body = nlohmann::json{{"text", p["text"]}}.dump();
        curl::Easy easy;
        curl::SlistPtr headers;
        curl::append(headers, "Content-Type: application/json");
        curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, *timeout);
        // Without a write callback libcurl prints the reply to stdout. Slack says why it refused
        // in the reply ("invalid_token"): keep its start for the error message.
        curl::CappedBody reply(200);
        curl::collect_body(easy.get(), reply);
        CURLcode code = curl_easy_perform(easy.get());
        if (code != CURLE_OK && !curl::stopped_at_cap(code, reply))
            return curl::network_failure(code, easy.describe(code, url)); // the URL is a secret
        long status = 0;
        curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
            return HandlerResult::ok();
        std::string msg = "HTTP " + std::to_string(status) + ": " + curl::excerpt(reply.data, 200);
        if (status == 429 || status >= 500)
            return HandlerResult::retry(msg);
        return HandlerResult::fail(msg);
    }
};

} // namespace

std::unique_ptr<Handler> make_slack_handler() {
    return std::make_unique<SlackHandler>();
}

} // namespace conveyor
