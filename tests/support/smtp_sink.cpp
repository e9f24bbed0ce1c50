#include "support/smtp_sink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "support/env.hpp"

namespace testsupport {

namespace {

const char* kParseScript = R"PY(
import email, email.policy, email.utils, json, os, sys
out = []
d = sys.argv[1]
names = sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns)
for name in names:
    raw = open(os.path.join(d, name), 'rb').read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    headers = {}
    for k, v in m.items():
        headers.setdefault(k.lower(), []).append(str(v))
    parts = []
    for p in m.walk():
        if p.is_multipart():
            continue
        parts.append({"content_type": p.get_content_type(), "charset": p.get_content_charset(),
                      "content": p.get_content()})
    try:
        date_ok = email.utils.parsedate_to_datetime(m['Date']) is not None
    except Exception:
        date_ok = False
    out.append({"headers": headers, "content_type": m.get_content_type(), "parts": parts,
                "date_ok": date_ok, "defects": [str(x) for x in m.defects],
                "raw": raw.decode('utf-8', 'replace')})
print(json.dumps(out))
)PY";

// Recipients starting with "bounce" get a permanent 550, "defer" a temporary 451.
const char* kHandlerModule = R"PY(
from aiosmtpd.handlers import Mailbox

class ScriptedMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('bounce'):
            return '550 5.1.1 <%s>: Recipient address rejected: user unknown' % address
        if address.startswith('defer'):
            return '451 4.3.0 Mailbox temporarily unavailable'
        envelope.rcpt_tos.append(address)
        return '250 OK'
)PY";

bool accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

} // namespace

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("bind failed");
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

SmtpSink::SmtpSink() : port_(free_port()) {
    char tmpl[] = "/tmp/conveyor-smtp-XXXXXX";
    if (!mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    for (const char* sub : {"/maildir", "/maildir/tmp", "/maildir/new", "/maildir/cur"})
        ::mkdir((dir_ + sub).c_str(), 0755);
    std::ofstream(dir_ + "/parse_mail.py") << kParseScript;
    std::ofstream(dir_ + "/sink_handler.py") << kHandlerModule;
}

SmtpSink::~SmtpSink() {
    stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0)
        std::fprintf(stderr, "could not remove %s\n", dir_.c_str());
}

void SmtpSink::start() {
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::string maildir = dir_ + "/maildir";
    std::string log = dir_ + "/aiosmtpd.log";
    pid_ = fork();
    if (pid_ == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("PYTHONPATH", dir_.c_str(), 1);
        // Debian's interpreter: the first python3 on PATH may lack Debian's modules.
        execl("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen.c_str(), "-c",
              "sink_handler.ScriptedMailbox", maildir.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    bool up = testsupport::wait_until([&] { return accepts(port_); }, std::chrono::seconds(20));
    INFO("aiosmtpd did not start; see " << log);
    REQUIRE(up);
}

void SmtpSink::stop() {
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > until) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
}

nlohmann::json SmtpSink::messages() const {
    std::string cmd = "/usr/bin/python3 '" + dir_ + "/parse_mail.py' '" + dir_ + "/maildir/new'";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f)
        throw std::runtime_error("popen failed");
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        out.append(buf, n);
    ::pclose(f);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_array())
        throw std::runtime_error("could not parse the maildir: " + out);
    return j;
}

} // namespace testsupport
