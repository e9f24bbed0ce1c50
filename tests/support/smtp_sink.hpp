#pragma once
// A real SMTP server for the email tests: Debian's aiosmtpd writing every message into a
// maildir. Recipients starting with "bounce" are refused with 550, "defer" with 451.
// Messages are read back through Python's email package, an independent MIME parser.
#include <string>

#include <nlohmann/json.hpp>

namespace testsupport {

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port();

class SmtpSink {
  public:
    // Picks a free port; the server starts only with start(), so a test can first see the
    // port refuse connections.
    SmtpSink();
    ~SmtpSink();
    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    void start(); // returns once the port accepts connections (REQUIREs it)
    void stop();
    int port() const { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

    // Delivered messages, oldest first: [{"headers": {lower-name: [values]}, "content_type",
    // "parts": [{"content_type", "charset", "content"}], "date_ok", "defects", "raw"}].
    nlohmann::json messages() const;

  private:
    std::string dir_;
    int port_ = 0;
    int pid_ = -1;
};

} // namespace testsupport
