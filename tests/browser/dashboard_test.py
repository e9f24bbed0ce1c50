"""The dashboard in a real headless Chromium: jobs appear live, a job's page shows its fields,
payload and timeline, a running job is cancelled from its page, a pause from the page stops
claims, schedules are listed, switched and triggered, the token is asked once per tab, the
browser's own EventSource resumes with Last-Event-ID, and CORS lets an allowed origin in only.
Set CONVEYOR_SCREENSHOTS to a directory to save the README's screenshots there."""
import http.server
import os
import threading
import time
import unittest

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys

from browser import By, find, start_browser, wait_text
from support import Database, Service, free_port, job_status, request, submit, wait_until

# A relative directory is taken from the repository's root (CTest runs this in tests/browser).
SCREENSHOTS = os.environ.get("CONVEYOR_SCREENSHOTS", "")
if SCREENSHOTS:
    SCREENSHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", SCREENSHOTS)


class DashboardCase(unittest.TestCase):
    env = {}

    def setUp(self):
        self.db = Database()
        self.service = Service(self.db, self.env)
        self.browser = start_browser()

    def tearDown(self):
        self.browser.quit()
        self.service.stop()
        self.db.close()

    def open(self, fragment):
        self.browser.get(self.service.base + "/ui/" + fragment)
        find(self.browser, "#live.on")

    def api(self, method, path, body=None):
        return request(self.service.base, method, path, body, getattr(self, "auth", None))


class LivePages(DashboardCase):
    def test_a_job_submitted_over_http_appears_live_and_changes_status(self):
        self.assertEqual(self.api("POST", "/queues/ui-live/pause").status, 200)
        self.open("#/jobs")
        job = submit(self.service, {"job_type": "noop", "payload": {"n": 1}, "queue": "ui-live"})
        row = '#jobs tr[data-job-id="%s"]' % job
        wait_text(self.browser, row + ' [data-field="status"]', "pending")
        self.assertEqual(self.api("POST", "/queues/ui-live/resume").status, 200)
        wait_text(self.browser, row + ' [data-field="status"]', "done")

    def test_filters_keep_other_jobs_off_the_list(self):
        self.open("#/jobs?queue=ui-mine")
        other = submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-other"})
        mine = submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-mine"})
        find(self.browser, '#jobs tr[data-job-id="%s"]' % mine)
        self.assertFalse(self.browser.find_elements(By.CSS_SELECTOR, '#jobs tr[data-job-id="%s"]' % other))

    def test_the_search_opens_a_job_by_id_and_lists_the_jobs_of_a_unique_key(self):
        keyed = submit(self.service, {"job_type": "noop", "payload": {}, "unique_key": "invoice-42"})
        other = submit(self.service, {"job_type": "noop", "payload": {}, "unique_key": "invoice-43"})
        plain = submit(self.service, {"job_type": "noop", "payload": {}})
        self.open("#/jobs")
        find(self.browser, '#jobs tr[data-job-id="%s"]' % plain)
        box = find(self.browser, "#search")
        box.send_keys("invoice-42", Keys.ENTER)
        find(self.browser, '#jobs tr[data-job-id="%s"]' % keyed)
        self.assertIn("unique_key=invoice-42", self.browser.current_url)
        self.assertEqual(len(self.browser.find_elements(By.CSS_SELECTOR, "#jobs tr")), 1)
        self.assertFalse(self.browser.find_elements(By.CSS_SELECTOR, '#jobs tr[data-job-id="%s"]' % other))
        box = find(self.browser, "#search")
        box.clear()
        box.send_keys(plain.upper())
        find(self.browser, "#search-go").click()
        wait_text(self.browser, '[data-field="id"]', plain)

    def test_keyset_paging_walks_older_jobs(self):
        ids = [submit(self.service, {"job_type": "noop", "payload": {"i": i}, "queue": "ui-page"}) for i in range(55)]
        self.open("#/jobs?queue=ui-page")
        find(self.browser, '#jobs tr[data-job-id="%s"]' % ids[-1])
        find(self.browser, "#next-page").click()
        find(self.browser, '#jobs tr[data-job-id="%s"]' % ids[0])
        self.assertEqual(len(self.browser.find_elements(By.CSS_SELECTOR, "#jobs tr")), 5)

    def test_a_job_page_shows_fields_payload_and_a_live_timeline(self):
        self.assertEqual(self.api("POST", "/queues/ui-one/pause").status, 200)
        job = submit(self.service, {"job_type": "noop", "payload": {"order": 42}, "queue": "ui-one"})
        self.open("#/jobs/" + job)
        wait_text(self.browser, "#job-status", "pending")
        self.assertIn('"order": 42', find(self.browser, "#payload").text)
        self.assertEqual(find(self.browser, '[data-field="queue"]').text, "ui-one")
        self.api("POST", "/queues/ui-one/resume")
        wait_text(self.browser, "#job-status", "done")
        find(self.browser, '#timeline li[data-status="processing"]')
        find(self.browser, '#timeline li[data-status="done"]')
        if SCREENSHOTS:
            self.browser.save_screenshot(os.path.join(SCREENSHOTS, "job.png"))

    def test_the_overview_counts_jobs_by_queue_and_status_and_charts_them_live(self):
        self.open("#/")
        for i in range(3):
            submit(self.service, {"job_type": "noop", "payload": {"i": i}, "queue": "ui-count"})
        wait_text(self.browser, '#counts tr[data-queue="ui-count"] td[data-status="done"]', "3")
        finished = "return [...app.finished.values()].reduce((a, b) => a + b, 0)"
        self.assertTrue(wait_until(lambda: self.browser.execute_script(finished) == 3))
        find(self.browser, "#chart rect[height]:not([height='0'])")
        if SCREENSHOTS:
            self.browser.save_screenshot(os.path.join(SCREENSHOTS, "overview.png"))


class QueuePause(DashboardCase):
    def test_pause_from_the_page_stops_claims_and_resume_restarts_them(self):
        submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-q"})
        self.open("#/queues")
        find(self.browser, '#queues tr[data-queue="ui-q"] button[data-action="Pause"]').click()
        find(self.browser, '#queues tr[data-queue="ui-q"][data-paused="true"]')
        self.assertTrue(self.api("GET", "/queues/ui-q").json()["paused"])
        held = submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-q"})
        # A job submitted after it in another queue runs: claims go on, but not from ui-q.
        later = submit(self.service, {"job_type": "noop", "payload": {}})
        self.assertTrue(wait_until(lambda: job_status(self.service, later) == "done"))
        self.assertEqual(job_status(self.service, held), "pending")
        find(self.browser, '#queues tr[data-queue="ui-q"] button[data-action="Resume"]').click()
        self.assertTrue(wait_until(lambda: job_status(self.service, held) == "done"), self.service.log())

    def test_a_concurrency_limit_is_set_from_the_page(self):
        submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-lim"})
        self.open("#/queues")
        box = find(self.browser, '#queues tr[data-queue="ui-lim"] input[type="number"]')
        box.send_keys("3")
        find(self.browser, '#queues tr[data-queue="ui-lim"] button[type="submit"]').click()
        self.assertTrue(wait_until(lambda: self.api("GET", "/queues/ui-lim").json()["concurrency_limit"] == 3))


class JobActions(DashboardCase):
    def test_cancel_retry_and_delete_from_the_job_page(self):
        later = {"job_type": "noop", "payload": {}, "run_at": "2099-01-01T00:00:00Z"}
        job = submit(self.service, later)
        self.open("#/jobs/" + job)
        self.click('button[data-action="Cancel"]')
        self.assertTrue(wait_until(lambda: job_status(self.service, job) == "cancelled"))
        self.click('button[data-action="Retry"]')
        self.assertTrue(wait_until(lambda: job_status(self.service, job) == "pending"))
        self.click('button[data-action="Delete"]')
        self.assertTrue(wait_until(lambda: self.api("GET", "/jobs/" + job).status == 404))
        find(self.browser, "#jobs")  # back on the list

    def test_cancel_a_running_job_from_its_page(self):
        # A webhook whose receiver holds the request: the job stays processing until cancelled.
        hold = HoldingServer()
        try:
            job = submit(self.service, {"job_type": "webhook", "max_attempts": 5,
                                        "payload": {"url": hold.url, "timeout_ms": 60000}})
            self.open("#/jobs/" + job)
            wait_text(self.browser, "#job-status", "processing")
            self.assertTrue(hold.arrived.wait(20))
            self.click('button[data-action="Cancel"]')
            wait_text(self.browser, "#job-status", "cancelled")
            find(self.browser, '#timeline li[data-status="cancelled"]')
            got = self.api("GET", "/jobs/" + job).json()
            self.assertEqual(got["status"], "cancelled")
            self.assertEqual(got["attempts"], 1)  # never retried
            self.assertTrue(got["last_error"].startswith("cancelled"), got)
        finally:
            hold.close()

    def click(self, css):
        """Clicks `css`, again if the page re-rendered it meanwhile (after an action, and on
        each live event of the job, the page is drawn anew)."""
        for _ in range(50):
            try:
                find(self.browser, css).click()
                return
            except StaleElementReferenceException:
                time.sleep(0.1)
        self.fail("could not click " + css)


class HoldingServer:
    """A webhook receiver on loopback that answers nothing for 30 s, so that a job calling it stays
    running until it is cancelled."""

    def __init__(self):
        self.arrived = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.arrived.set()
                outer.release.wait(30)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hold" % self.server.server_address[1]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Schedules(DashboardCase):
    def put(self, name, enabled=True, queue="ui-sched"):
        body = {"cron": "0 3 * * *", "timezone": "Europe/Berlin", "enabled": enabled,
                "job": {"job_type": "noop", "queue": queue, "payload": {"from": name}}}
        r = self.api("PUT", "/schedules/" + name, body)
        self.assertEqual(r.status, 201, r.body)

    def test_schedules_are_listed_with_their_state_and_next_run(self):
        self.put("nightly")
        self.put("paused-one", enabled=False)
        self.open("#/schedules")
        wait_text(self.browser, '#schedules tr[data-schedule="nightly"] [data-field="state"]', "enabled")
        wait_text(self.browser, '#schedules tr[data-schedule="paused-one"] [data-field="state"]', "disabled")
        self.assertNotEqual(find(self.browser, '#schedules tr[data-schedule="nightly"] [data-field="next_run_at"]').text, "—")
        self.assertEqual(find(self.browser, '#schedules tr[data-schedule="paused-one"] [data-field="next_run_at"]').text, "—")

    def test_disable_and_enable_from_the_page(self):
        self.put("nightly")
        self.open("#/schedules")
        find(self.browser, '#schedules tr[data-schedule="nightly"] button[data-action="Disable"]').click()
        find(self.browser, '#schedules tr[data-schedule="nightly"][data-enabled="false"]')
        s = self.api("GET", "/schedules/nightly").json()
        self.assertFalse(s["enabled"])
        self.assertIsNone(s["next_run_at"])
        # The rest of the schedule is kept as it was.
        self.assertEqual((s["cron"], s["timezone"], s["job"]["payload"]), ("0 3 * * *", "Europe/Berlin", {"from": "nightly"}))
        find(self.browser, '#schedules tr[data-schedule="nightly"] button[data-action="Enable"]').click()
        find(self.browser, '#schedules tr[data-schedule="nightly"][data-enabled="true"]')
        s = self.api("GET", "/schedules/nightly").json()
        self.assertTrue(s["enabled"])
        self.assertIsNotNone(s["next_run_at"])

    def test_trigger_from_the_page_enqueues_one_job_and_shows_it(self):
        self.put("nightly")
        self.open("#/schedules")
        find(self.browser, '#schedules tr[data-schedule="nightly"] button[data-action="Trigger"]').click()
        wait_text(self.browser, "#job-status", "done")
        jobs = self.api("GET", "/jobs?queue=ui-sched").json()
        self.assertEqual(len(jobs), 1)
        self.assertEqual(jobs[0]["payload"], {"from": "nightly"})
        self.assertIn(jobs[0]["id"], self.browser.current_url)


class TokenOncePerTab(DashboardCase):
    env = {"API_TOKEN": "dash-token-7"}

    def test_the_page_asks_for_the_token_once_and_keeps_it_for_the_tab(self):
        self.auth = {"Authorization": "Bearer dash-token-7"}
        submit(self.service, {"job_type": "noop", "payload": {}, "queue": "ui-tok"}, self.auth)
        self.browser.get(self.service.base + "/ui/#/queues")
        find(self.browser, "#login:not([hidden])")
        find(self.browser, "#token").send_keys("dash-token-7")
        find(self.browser, "#login button").click()
        find(self.browser, '#queues tr[data-queue="ui-tok"]')
        find(self.browser, "#live.on")
        self.browser.refresh()
        find(self.browser, '#queues tr[data-queue="ui-tok"]')
        self.assertTrue(self.browser.find_element(By.ID, "login").get_attribute("hidden") is not None)


class EventSourceResume(unittest.TestCase):
    """The browser's own reconnection: the server goes away, jobs change meanwhile (through a
    second process on the same database), the server comes back on the same port, and the page's
    EventSource resumes with Last-Event-ID: every missed event arrives, each once."""

    def test_the_browser_resumes_after_the_server_closed_the_stream(self):
        db = Database()
        port = free_port()
        first = Service(db, port=port)
        browser = start_browser()
        other = None
        try:
            browser.get(first.base + "/ui/#/queues")
            browser.execute_script("""
                window.seen = [];
                const es = new EventSource('/events');
                es.addEventListener('job', (e) => window.seen.push([Number(e.lastEventId), JSON.parse(e.data).id]));
                window.probe = es;""")
            before = submit(first, {"job_type": "noop", "payload": {}})
            self.assertTrue(wait_until(lambda: browser.execute_script(
                "return window.seen.filter((s) => s[1] === arguments[0]).length", before) >= 3))
            first.stop()  # SIGTERM: the server closes every stream
            other = Service(db)
            missed = [submit(other, {"job_type": "noop", "payload": {"m": i}}) for i in range(5)]
            self.assertTrue(wait_until(lambda: all(job_status(other, j) == "done" for j in missed)))
            first = Service(db, port=port)
            # pending, processing and done of each missed job, through the browser's resume.
            got = wait_until(lambda: (lambda s: s if all(sum(1 for x in s if x[1] == j) >= 3 for j in missed) else None)(
                browser.execute_script("return window.seen")), 30)
            self.assertTrue(got, browser.execute_script("return window.seen"))
            ids = [x[0] for x in got]
            self.assertEqual(len(ids), len(set(ids)), "an event arrived twice")
            logged = [int(i) for i in db.sql("SELECT id FROM job_events WHERE id >= %d ORDER BY id" % ids[0]).split()]
            self.assertEqual(ids, logged, "the browser's events differ from the event log")
        finally:
            browser.quit()
            first.stop()
            if other:
                other.stop()
            db.close()


class ResetReloads(unittest.TestCase):
    """When the browser resumes with a Last-Event-ID the server no longer holds (here: the
    server came back on another database, whose log is behind the id), the stream starts with
    `event: reset` and the page reloads what it shows."""

    def test_a_reset_makes_the_page_reload_its_data(self):
        first_db, second_db = Database(), Database()
        port = free_port()
        service = Service(first_db, port=port)
        browser = start_browser()
        try:
            for i in range(5):
                submit(service, {"job_type": "noop", "payload": {"i": i}})
            browser.get(service.base + "/ui/#/jobs")
            find(browser, "#live.on")
            seen = submit(service, {"job_type": "noop", "payload": {}})
            find(browser, '#jobs tr[data-job-id="%s"]' % seen)
            service.stop()
            service = Service(second_db, port=port)
            # Written with no page watching: only a reload can show it.
            other = submit(service, {"job_type": "noop", "payload": {"db": 2}})
            self.assertTrue(wait_until(lambda: job_status(service, other) == "done"))
            find(browser, '#jobs tr[data-job-id="%s"]' % other, 30)
            self.assertFalse(browser.find_elements(By.CSS_SELECTOR, '#jobs tr[data-job-id="%s"]' % seen))
        finally:
            browser.quit()
            service.stop()
            first_db.close()
            second_db.close()


CORS_PAGE = b"""<!doctype html><meta charset="utf-8"><title>other origin</title><script>
const api = new URLSearchParams(location.search).get('api');
window.result = {};
// The job is posted once the stream is open (or refused): posted earlier, all its events could
// be sent before the stream subscribes, and a fresh stream gets live events only.
let posted = false;
function post() {
  if (posted) return;
  posted = true;
  fetch(api + '/jobs', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({job_type: 'noop', payload: {from: location.origin}})})
    .then((r) => r.json().then((j) => { window.result.fetch = r.status + ' ' + j.id; }))
    .catch((e) => { window.result.fetch = 'blocked'; });
}
const es = new EventSource(api + '/events');
es.onopen = post;
es.addEventListener('job', () => { window.result.events = 'received'; es.close(); });
es.onerror = () => { if (es.readyState === EventSource.CLOSED) window.result.events = 'blocked'; post(); };
</script>"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(CORS_PAGE)

    def log_message(self, *args):
        pass


class CorsFromAnotherOrigin(unittest.TestCase):
    def setUp(self):
        self.pages = []
        for _ in range(2):
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.pages.append(server)
        self.allowed = "http://127.0.0.1:%d" % self.pages[0].server_address[1]
        self.denied = "http://127.0.0.1:%d" % self.pages[1].server_address[1]
        self.db = Database()
        self.service = Service(self.db, {"CORS_ALLOWED_ORIGINS": self.allowed})
        self.browser = start_browser()

    def tearDown(self):
        self.browser.quit()
        self.service.stop()
        self.db.close()
        for p in self.pages:
            p.shutdown()

    def result(self, origin):
        self.browser.get(origin + "/?api=" + self.service.base)
        return wait_until(lambda: (lambda r: r if r and "fetch" in r and "events" in r else None)(
            self.browser.execute_script("return window.result")), 20)

    def test_an_allowed_origin_posts_and_streams(self):
        r = self.result(self.allowed)
        self.assertTrue(r, self.browser.execute_script("return window.result"))
        self.assertTrue(r["fetch"].startswith("201 "), r)
        self.assertEqual(r["events"], "received")

    def test_another_origin_is_blocked_by_the_browser(self):
        r = self.result(self.denied)
        self.assertTrue(r, self.browser.execute_script("return window.result"))
        self.assertEqual(r, {"fetch": "blocked", "events": "blocked"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
