"""Shared helpers of the Python tests (browser, OpenAPI, Prometheus): a fresh database on the
throw-away cluster of scripts/test, a real Conveyor process, plain HTTP, bounded waits."""
import http.client
import json
import os
import random
import re
import socket
import subprocess
import threading
import time
import urllib.parse

PG_URL = os.environ.get("CONVEYOR_TEST_PG_URL", "")
CONVEYOR = os.environ.get("CONVEYOR_BIN", "")


def wait_until(pred, timeout=20.0, step=0.1):
    """Polls pred until it returns a true value (returned) or timeout seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_dbname(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def psql(url, sql):
    out = subprocess.run(["psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


class Database:
    """A database of its own on the test cluster, dropped on close()."""

    def __init__(self):
        if not PG_URL:
            raise RuntimeError("CONVEYOR_TEST_PG_URL is not set (run through ./scripts/test)")
        self.name = "py_%d_%d" % (os.getpid(), random.randrange(10**6))
        psql(PG_URL, "CREATE DATABASE " + self.name)
        self.url = with_dbname(PG_URL, self.name)

    def sql(self, text):
        return psql(self.url, text)

    def close(self):
        psql(PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


class Service:
    """A real Conveyor process on loopback; its stderr is kept for failure messages."""

    def __init__(self, db, env=None, port=0):
        full = dict(os.environ)
        full.update({"DATABASE_URL": db.url, "HOST": "127.0.0.1", "PORT": str(port)})
        full.update(env or {})
        self.proc = subprocess.Popen([CONVEYOR], env=full, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = wait_until(lambda: self._port() or self.proc.poll() is not None, 30)
        self.port = self._port()
        if not found or not self.port:
            self.stop()
            raise RuntimeError("Conveyor did not start:\n" + self.log())
        self.base = "http://127.0.0.1:%d" % self.port

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def _port(self):
        for line in list(self.lines):
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        return None

    def log(self):
        return "".join(self.lines[-200:])

    def stop(self, sig_term=True):
        if self.proc.poll() is None:
            if sig_term:
                self.proc.terminate()
            else:
                self.proc.kill()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        self.proc.stderr.close()


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def json(self):
        return json.loads(self.body)


def request(base, method, path, body=None, headers=None, timeout=10):
    """One HTTP/1.1 request; redirects are not followed. `body` (not bytes) is sent as JSON."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    hdrs = dict(headers or {})
    data = body
    if body is not None and not isinstance(body, (bytes, str)):
        data = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    out = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode())
    conn.close()
    return out


def submit(service, job, headers=None):
    r = request(service.base, "POST", "/jobs", job, headers)
    if r.status != 201:
        raise AssertionError("POST /jobs answered %d %s\n%s" % (r.status, r.body, service.log()))
    return r.json()["id"]


def job_status(service, job_id, headers=None):
    r = request(service.base, "GET", "/jobs/" + job_id, headers=headers)
    return r.json().get("status") if r.status == 200 else None
