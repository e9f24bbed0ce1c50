"""Headless Chromium over WebDriver (Debian chromium, chromium-driver, python3-selenium)."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def find(driver, css, timeout=20):
    """The element matching css once it exists (bounded wait), or an AssertionError."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
            lambda d: d.find_element(By.CSS_SELECTOR, css))
    except Exception:
        raise AssertionError("no element %r on %s; console: %s" % (css, driver.current_url, console(driver)))


def wait_text(driver, css, text, timeout=20):
    """Waits until the element matching css shows text; returns it or raises AssertionError."""
    def check():
        try:
            el = driver.find_element(By.CSS_SELECTOR, css)
            return el if el.text.strip() == text else None
        except Exception:
            return None
    el = wait_until(check, timeout)
    if not el:
        raise AssertionError("%r never showed %r on %s; console: %s" % (css, text, driver.current_url, console(driver)))
    return el


def console(driver):
    try:
        return [e["message"] for e in driver.get_log("browser")]
    except Exception:
        return []
