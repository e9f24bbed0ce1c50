#pragma once
// Standard Webhooks (standardwebhooks.com) signatures for the `webhook` job type.
#include <string>

namespace conveyor {

// `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the value of the
// `webhook-signature` header. `key` is the decoded key of WEBHOOK_SIGNING_SECRET.
std::string standard_webhook_signature(const std::string& key, const std::string& id,
                                       long long timestamp, const std::string& body);

} // namespace conveyor
