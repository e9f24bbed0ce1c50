"""Prometheus for real (Debian prometheus): promtool accepts a live scrape, and a Prometheus server
scraping Conveyor on loopback (with the bearer token, as SPEC §4 says) answers a query for the
jobs that ran."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from support import Database, Service, free_port, job_status, request, submit, wait_until

TOKEN = "prom-token-5"
AUTH = {"Authorization": "Bearer " + TOKEN}


class Prometheus(unittest.TestCase):
    def setUp(self):
        self.db = Database()
        self.service = Service(self.db, {"API_TOKEN": TOKEN})
        self.dir = tempfile.mkdtemp(prefix="conveyor-prom-")
        self.prom = None

    def tearDown(self):
        if self.prom and self.prom.poll() is None:
            self.prom.terminate()
            self.prom.wait(30)
        self.service.stop()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_jobs(self, n):
        ids = [submit(self.service, {"job_type": "noop", "payload": {"i": i}, "queue": "prom"}, AUTH) for i in range(n)]
        self.assertTrue(wait_until(lambda: all(job_status(self.service, j, AUTH) == "done" for j in ids)))

    def test_promtool_accepts_a_live_scrape(self):
        self.run_jobs(3)
        text = request(self.service.base, "GET", "/metrics", headers=AUTH).body
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_prometheus_scrapes_and_answers_a_query_for_finished_jobs(self):
        self.run_jobs(7)
        port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n  - job_name: conveyor\n"
                    "    authorization:\n      credentials: %s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (TOKEN, self.service.port))
        with open(os.path.join(self.dir, "prometheus.log"), "w") as log:
            self.prom = subprocess.Popen(
                ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdout=subprocess.DEVNULL, stderr=log)
        base = "http://127.0.0.1:%d" % port
        query = 'sum(conveyor_jobs_finished_total{queue="prom",outcome="done"})'

        def answer():
            try:
                r = request(base, "GET", "/api/v1/query?query=" + urllib.parse.quote(query))
            except OSError:
                return None
            if r.status != 200:
                return None
            result = json.loads(r.body)["data"]["result"]
            return result and float(result[0]["value"][1]) == 7.0
        ok = wait_until(answer, 60, 0.5)
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            log = f.read()[-3000:]
        self.assertTrue(ok, log)
        # The target is healthy: the scrape with the token worked.
        targets = json.loads(request(base, "GET", "/api/v1/targets").body)["data"]["activeTargets"]
        self.assertEqual([t["health"] for t in targets], ["up"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
