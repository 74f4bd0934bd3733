"""The dashboard in a real headless Chromium (Selenium), against the real fazt binary.

Run by tests/browser.sh: python3 dashboard.py FAZT_BINARY SCREENSHOT_DIR. Sets the password
with the CLI, logs in (a wrong password is refused, then rate limited), deploys a folder
through the file input and sees it listed and served, watches a script's log line appear,
sees the analytics chart drawn from real page views, creates and revokes a token, changes a
site setting, checks that a page on evil.localhost cannot use the session, and logs out (the
old cookie then no longer works). Saves a screenshot of every page.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BIN, SHOTS = sys.argv[1], sys.argv[2]
PASSWORD = "a browser-tested password"
os.makedirs(SHOTS, exist_ok=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(method, host, path, headers=None, body=None):
    """(status, parsed JSON or text) of a request to the server with this Host."""
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body, method=method)
    req.add_header("Host", f"{host}:{PORT}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


work = tempfile.mkdtemp(prefix="fazt-browser-")
db = os.path.join(work, "fazt.db")
PORT = free_port()
log = open(os.path.join(SHOTS, "server.log"), "w")
server = subprocess.Popen(
    [BIN, "serve", "--db", db, "--listen", f"127.0.0.1:{PORT}", "--analytics-flush-ms", "200"],
    stdout=log, stderr=subprocess.STDOUT)
for _ in range(100):
    try:
        if http("GET", "localhost", "/health")[0] == 200:
            break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("fazt did not start")

subprocess.run([BIN, "admin", "set-password", "--db", db], input=PASSWORD + "\n",
               text=True, check=True)
# An admin token for checking, from outside the browser, what the browser did.
ADMIN = subprocess.run([BIN, "token", "create", "--name", "checker", "--scope", "admin", "--db", db],
                       capture_output=True, text=True, check=True).stdout.strip()
AUTH = {"Authorization": "Bearer " + ADMIN}

# The folder the test deploys: a page, and a script under /api that logs.
site_dir = os.path.join(work, "hello")
os.makedirs(os.path.join(site_dir, "api"))
with open(os.path.join(site_dir, "index.html"), "w") as f:
    f.write("<!doctype html><title>hello</title><h1>Hello from a browser deploy</h1>")
with open(os.path.join(site_dir, "api", "main.js"), "w") as f:
    f.write("console.log('script says hi at ' + request.path); respond(200, 'logged');")
# The hostile site: its page tries the admin API with the browser's session.
evil_dir = os.path.join(work, "evil")
os.makedirs(evil_dir)
with open(os.path.join(evil_dir, "index.html"), "w") as f:
    f.write("""<!doctype html><title>evil</title><pre id=out>running</pre><script>
const base = 'http://localhost:%d';
const out = [];
const go = async (method, path, body) => {
  try {
    const r = await fetch(base + path, {method, credentials: 'include', body,
      headers: body ? {'Content-Type': 'application/json'} : {}});
    out.push(method + ' ' + path + ' ' + r.status + ' ' + (await r.text()).slice(0, 80));
  } catch (e) { out.push(method + ' ' + path + ' blocked: ' + e.name); }
};
(async () => {
  await go('POST', '/api/keys', JSON.stringify({name: 'stolen', scope: 'admin'}));
  await go('GET', '/api/keys');
  await go('DELETE', '/api/sites/hello');
  document.getElementById('out').textContent = 'done\\n' + out.join('\\n');
})();
</script>""" % PORT)
status, _ = http("PUT", "localhost", "/api/sites/evil", AUTH,
                 subprocess.run(["sh", "-c", f"cd {evil_dir} && zip -qr - ."], capture_output=True,
                                check=True).stdout)
assert status == 200, status

opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
          "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1"]:
    opts.add_argument(a)
# Debian's browser and driver, named outright: nothing is downloaded.
opts.binary_location = shutil.which("chromium")
driver = webdriver.Chrome(options=opts, service=Service(executable_path=shutil.which("chromedriver")))
wait = WebDriverWait(driver, 15)
BASE = f"http://localhost:{PORT}/"
shots = []


def shot(name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    shots.append(path)


def msg():
    return driver.find_element(By.ID, "msg").text


def go(hash_):
    driver.get(BASE + hash_)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main h1")))


def login(pw):
    box = wait.until(EC.presence_of_element_located((By.ID, "password")))
    box.clear()
    box.send_keys(pw)
    driver.find_element(By.CSS_SELECTOR, ".login button").click()


try:
    # ── log in: a wrong password first ────────────────────────────────────────────────
    driver.get(BASE)
    login("not the password")
    wait.until(lambda d: "wrong password" in msg())
    shot("01-login-refused")
    login(PASSWORD)
    wait.until(EC.visibility_of_element_located((By.ID, "nav")))
    wait.until(lambda d: "Overview" in d.find_element(By.CSS_SELECTOR, "main h1").text)
    assert "version" in driver.find_element(By.ID, "main").text
    shot("02-overview")
    # A phone's width: nothing wider than the screen (tables scroll inside their box).
    driver.set_window_size(360, 800)
    go("#/")
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    assert wide <= 360, wide
    shot("02b-overview-360px")
    driver.set_window_size(1280, 900)
    # Dark: the page follows prefers-color-scheme.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    bg = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(17, 20, 24)", bg
    shot("02c-overview-dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    # The keyboard: Tab from the top reaches the navigation's first link.
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = driver.execute_script("return document.activeElement.textContent")
    assert focused in ("fazt", "Overview"), focused
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    assert "fazt_session" in cookies, cookies
    session_cookie = "fazt_session=" + cookies["fazt_session"]
    assert next(c for c in driver.get_cookies() if c["name"] == "fazt_session")["httpOnly"]
    assert driver.execute_script("return document.cookie") == "", "the session is HttpOnly"

    # ── deploy a folder through the file input ───────────────────────────────────────────
    go("#/sites")
    driver.find_element(By.CSS_SELECTOR, "input[name=site]").send_keys("hello")
    # The folder picker (webkitdirectory): the browser gives each file its path in the folder.
    driver.find_element(By.CSS_SELECTOR, "input[webkitdirectory]").send_keys(site_dir)
    wait.until(lambda d: "2 file(s) ready" in d.find_element(By.CSS_SELECTOR, ".drop").text)
    driver.find_element(By.CSS_SELECTOR, "section form button").click()
    wait.until(lambda d: "Deployed hello" in msg())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a[href='#/site/hello']"))
    shot("03-sites")
    status, body = http("GET", "hello.localhost", "/")
    assert status == 200 and "Hello from a browser deploy" in body, (status, body)

    # ── the site: live logs, a setting, visits ────────────────────────────────────────────
    for _ in range(3):
        driver.get(f"http://hello.localhost:{PORT}/")
    go("#/site/hello")
    wait.until(EC.presence_of_element_located((By.ID, "logs")))
    assert http("GET", "hello.localhost", "/api/ping")[0] == 200
    wait.until(lambda d: "script says hi at /api/ping" in d.find_element(By.ID, "logs").text)
    spa = driver.find_element(By.CSS_SELECTOR, "input[name=spa]")
    spa.click()
    wait.until(lambda d: "SPA fallback on" in msg())
    assert http("GET", "localhost", "/api/sites/hello", AUTH)[1]["data"]["spa"] is True
    driver.find_element(By.CSS_SELECTOR, "input[name=websocket]").click()
    wait.until(lambda d: "WebSocket /ws on" in msg())
    assert http("GET", "localhost", "/api/sites/hello", AUTH)[1]["data"]["websocket"] is True
    shot("04-site")

    # ── analytics: the chart has the page views ──────────────────────────────────────────
    deadline = time.time() + 15
    while True:
        go("#/analytics")
        text = driver.find_element(By.ID, "main").text
        views = driver.find_element(By.CSS_SELECTOR, ".cards .card b").text
        if views not in ("0", "") or time.time() > deadline:
            break
        time.sleep(0.5)
    assert int(views) >= 1, (views, text)
    points = driver.find_element(By.CSS_SELECTOR, "svg.chart polyline").get_attribute("points")
    assert points and len(points.split()) >= 2, points
    shot("05-analytics")

    # ── tokens: create (shown once), it works; revoke, it does not ───────────────────────
    go("#/tokens")
    driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("from-the-browser")
    driver.find_element(By.CSS_SELECTOR, "main form button").click()
    token = wait.until(EC.visibility_of_element_located((By.ID, "new-token"))).text
    assert token.startswith("fazt_"), token
    assert http("GET", "localhost", "/api/sites", {"Authorization": "Bearer " + token})[0] == 200
    shot("06-tokens")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#token-list tr")
               if "from-the-browser" in r.text)
    row.find_element(By.TAG_NAME, "button").click()
    driver.switch_to.alert.accept()
    wait.until(lambda d: "Revoked from-the-browser" in msg())
    assert http("GET", "localhost", "/api/sites", {"Authorization": "Bearer " + token})[0] == 401

    go("#/links")
    shot("07-links")
    go("#/system")
    wait.until(lambda d: "this one" in d.find_element(By.ID, "main").text)
    shot("08-system")

    # ── a deployed site's page cannot use the admin session ──────────────────────────────
    driver.get(f"http://evil.localhost:{PORT}/")
    wait.until(lambda d: d.find_element(By.ID, "out").text.startswith("done"))
    evil = driver.find_element(By.ID, "out").text
    shot("09-evil")
    keys = http("GET", "localhost", "/api/keys", AUTH)[1]["data"]
    assert not any(k["name"] == "stolen" for k in keys), (evil, keys)
    assert http("GET", "hello.localhost", "/")[0] == 200, "the site was not deleted"
    assert " 200 " not in evil and " 201 " not in evil, evil

    # ── log out: the old cookie is dead ──────────────────────────────────────────────────
    go("#/")
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.presence_of_element_located((By.ID, "password")))
    assert http("GET", "localhost", "/api/sites", {"Cookie": session_cookie})[0] == 401

    # ── and guessing is rate limited ─────────────────────────────────────────────────────
    # One wrong password was typed at the start: four more reach the limit of five.
    for i in range(5):
        driver.execute_script("document.getElementById('msg').textContent = ''")
        login("guess %d" % i)
        WebDriverWait(driver, 30).until(lambda d: msg() != "")
        if i < 4:
            assert "wrong password" in msg(), (i, msg())
    assert "too many failed logins" in msg(), msg()
    shot("10-rate-limited")
    print("browser test passed; screenshots:", *shots, sep="\n  ")
    print("evil.localhost saw:", evil.replace("\n", " | "))
finally:
    driver.quit()
    server.terminate()
    server.wait(10)
