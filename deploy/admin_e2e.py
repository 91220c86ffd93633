#!/usr/bin/env python3
"""The admin page in a real browser: headless Chromium driven over WebDriver
(chromedriver), with nothing but the standard library.

    admin_e2e.py SERVER_URL ADMIN_TOKEN VICTIM_PID VICTIM_NAME SCREENSHOT

Logs in with a wrong token (refused) and the right one, checks the session
cookie is out of the page's reach (HttpOnly), waits for both remotes to show
online, kills VICTIM_PID (a remote's process) and waits for its row to turn
offline, then saves a screenshot. Run by deploy/admin-e2e.sh.
"""
import base64
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Driver:
    def __init__(self, url):
        self.url = url
        self.sid = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.read().decode(errors='replace')}") from None

    def start(self):
        opts = {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000"]}
        if os.path.exists("/usr/bin/chromium"):
            opts["binary"] = "/usr/bin/chromium"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": opts}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def type(self, css, text):
        el = self.find(css)
        self.s("POST", f"/element/{el}/clear", {})
        self.s("POST", f"/element/{el}/value", {"text": text})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def stop(self):
        if self.sid:
            self.s("DELETE", "")


def wait(what, seconds, check):
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise SystemExit(f"admin page: timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def states(d):
    """Each remote row's (name cell, state) as the page shows them."""
    return d.js("""return [...document.querySelectorAll('#remotes tbody tr')]
                   .map(tr => [tr.cells[0].textContent, tr.dataset.state]);""")


def main():
    server, token, victim_pid, victim, shot = sys.argv[1:6]
    d = Driver(os.environ.get("WEBDRIVER", "http://127.0.0.1:9515"))
    d.start()
    try:
        d.go(server + "/admin")
        assert d.js("return document.title") == "Pyxis admin: log in", "the login form first"

        d.type("#token", "not-the-token")
        d.click("button[type=submit]")
        wait("the refusal", 10, lambda: "Wrong admin token" in d.js(
            "return document.querySelector('#error')?.textContent || ''"))
        print("wrong token: refused")

        d.type("#token", token)
        d.click("button[type=submit]")
        wait("the page", 10, lambda: d.js("return document.title") == "Pyxis admin")
        assert d.js("return document.cookie") == "", "the session cookie must be HttpOnly"
        print("logged in; the session cookie is out of the page's reach")

        rows = wait("two remotes online", 30,
                    lambda: (lambda r: r if sum(s == "online" for _, s in r) == 2 else None)(states(d)))
        print("remotes:", rows)
        assert any(victim in name for name, _ in rows), f"no row for {victim}"

        killed = time.monotonic()
        os.kill(int(victim_pid), signal.SIGKILL)
        wait(f"{victim} to show offline", 30,
             lambda: any(victim in name and s == "offline" for name, s in states(d)))
        print(f"{victim} shown offline {time.monotonic() - killed:.1f} s after it was killed")
        assert sum(s == "online" for _, s in states(d)) == 1, "the other remote stays online"
        # The other panels filled in too.
        wait("chunk health and users", 15,
             lambda: d.js("return document.querySelectorAll('#users tbody tr').length") >= 1)

        png = base64.b64decode(d.s("GET", "/screenshot"))
        with open(shot, "wb") as f:
            f.write(png)
        print(f"screenshot: {shot} ({len(png)} bytes)")
    finally:
        d.stop()


if __name__ == "__main__":
    main()
