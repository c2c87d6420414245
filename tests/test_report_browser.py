"""report/index.html in headless Chromium: the ranking comes first, intervals are shown, every
table and figure renders, headers sort, the page reads without JavaScript; screenshots are saved
in the report folder of the test's tmp output (``screenshot*.png``).

The report is rendered from :mod:`report_fixture` (five problems of four kinds, eleven methods
in two studies, three held-out seeds, tuning trials). The figures' legends and panels are
checked on the matplotlib objects of the same results (legend boxes outside every axes box, no
axes without data).

Drives Chromium over the DevTools protocol on ``--remote-debugging-pipe`` (file descriptors 3
and 4, NUL-separated JSON), so no extra Python dependency is needed. Chromium is required: the
test fails (it does not skip) when ``/usr/bin/chromium`` (or ``$CHROMIUM``) is missing — CI
installs the Debian packages ``chromium`` and ``chromium-driver`` (see ``.ci/run``).
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from pinnarena.aggregate import leaderboard
from pinnarena.report import Context, build, empty_panels, figure_objects, legend_outside_axes, render
from report_fixture import make_results

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]


def chromium_binary() -> str:
    exe = os.environ.get("CHROMIUM") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None) \
        or shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is required for the report browser test (apt-get install chromium chromium-driver)"
    return exe


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, exe: str, profile: str, timeout: float = 60.0):
        self.timeout, self.next_id, self.buf = timeout, 0, b""
        cmd_r, self.cmd_w = os.pipe()  # we write commands, Chromium reads them on fd 3
        self.out_r, out_w = os.pipe()  # Chromium writes replies on fd 4

        def child_fds():
            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=child_fds, close_fds=False)
        os.close(cmd_r)
        os.close(out_w)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.out_r], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self.out_r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe: {self.proc.stderr.read().decode()[-2000:]}")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - best effort, killed below
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.out_r)


class Page:
    def __init__(self, browser: Browser):
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1000, "deviceScaleFactor": 1,
                                                         "mobile": False})

    def send(self, method, params=None):
        return self.b.send(method, params, self.session)

    def eval(self, expr: str):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url: str):
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + 60
        while self.eval("document.readyState") != "complete" or not self.eval(
                "Array.from(document.images).every(i => i.complete)"):
            assert time.monotonic() < deadline, "page did not finish loading"
            time.sleep(0.1)

    def click(self, selector: str):
        """A real mouse click (Input events) at the centre of the element."""
        box = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    s, c = make_results()
    board = leaderboard(s, c)
    out = tmp_path_factory.mktemp("report")
    ctx = Context(board, s, c)
    paths = render(board, s, c, out)
    rep = build(board, s, c, ctx=ctx)
    return out, paths, len(rep.tables()), ctx


def _shot(page, path):
    shot = base64.b64decode(page.send("Page.captureScreenshot", {"format": "png"})["data"])
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    path.write_bytes(shot)


def test_report_in_headless_chromium(report_dir):
    out, paths, n_tables, _ = report_dir
    exe = chromium_binary()
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(exe, profile)
        try:
            page = Page(browser)
            page.goto((out / "index.html").resolve().as_uri())
            assert page.eval("document.title").startswith("pinnarena leaderboard")
            assert "runs: 180" in page.eval("document.querySelector('header').innerText")

            # reading order: summary, ranking, kinds, problems, figures, findings, appendix
            h2 = page.eval("Array.from(document.querySelectorAll('h2')).map(h => h.id)")
            want = ["summary", "ranking", "rankings-by-kind", "per-problem", "figures", "findings", "appendix"]
            assert [h for h in h2 if h in want] == want, h2
            assert h2.index("appendix") < h2.index("appendix-targets")
            assert "Budget: 15 s" in page.eval("document.querySelector('p.summary').innerText")

            # the first table is the ranking, with score intervals and significance groups
            first = page.eval("""(() => { const t = document.querySelector('table');
                const h = t.closest('div').previousElementSibling.previousElementSibling;
                return {h3: h.id, head: Array.from(t.tHead.rows[0].cells).map(c => c.textContent),
                        rows: Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent))}; })()""")
            assert first["h3"] == "ranking-optimizers", first["h3"]
            ci = first["head"].index("score 95 % CI (s)")
            assert all(" – " in r[ci] for r in first["rows"]) and len(first["rows"]) == 7
            assert first["rows"][0][first["head"].index("method")] == "lbfgs + none"
            assert "Friedman test" in page.eval("document.querySelector('#ranking-optimizers + p.note').innerText")
            # every per-problem table shows the median's interval
            cis = page.eval("""Array.from(document.querySelectorAll('h3[id^=problem-]')).map(h => {
                const t = h.parentElement.querySelector('#' + h.id + ' + p + div table');
                const c = Array.from(t.tHead.rows[0].cells).findIndex(x => x.textContent === '95 % CI');
                return Array.from(t.tBodies[0].rows).every(r => r.cells[c].textContent.includes(' – ')); })""")
            assert len(cis) == 10 and all(cis)

            # every table is laid out, has a header and at least one row (collapsed ones open on click)
            tables = page.eval("""Array.from(document.querySelectorAll('table')).map(t => ({
                h: t.getBoundingClientRect().height, th: t.tHead.rows[0].cells.length, rows: t.tBodies[0].rows.length,
                hidden: t.closest('details') !== null && !t.closest('details').open}))""")
            assert len(tables) == n_tables
            assert all((t["h"] > 0 or t["hidden"]) and t["th"] > 0 and t["rows"] > 0 for t in tables), tables

            # every figure decoded (naturalWidth > 0) and is displayed; findings link existing anchors
            imgs = page.eval("""Array.from(document.images).map(i => ({w: i.naturalWidth, h: i.naturalHeight,
                shown: i.getBoundingClientRect().width}))""")
            assert len(imgs) == len([p for p in paths if p.suffix == ".png"]) >= 10
            assert all(i["w"] > 0 and i["h"] > 0 and i["shown"] > 0 for i in imgs), imgs
            links = page.eval("""Array.from(document.querySelectorAll('ol.findings a')).map(a =>
                document.getElementById(a.getAttribute('href').slice(1)) !== null)""")
            assert len(links) >= 8 and all(links)

            # clicking a header sorts its table: the per-problem table of heat by median error
            sel = "#problem-optimizers-heat + p + div table"
            col = page.eval(f"""Array.from(document.querySelectorAll({json.dumps(sel + ' th')}))
                .findIndex(th => th.textContent === 'median rel. L2')""")
            assert col > 0
            values = f"""Array.from(document.querySelector({json.dumps(sel)}).tBodies[0].rows)
                .map(r => Number(r.cells[{col}].getAttribute('data-v')))"""
            methods = f"""Array.from(document.querySelector({json.dumps(sel)}).tBodies[0].rows)
                .map(r => r.cells[0].textContent)"""
            page.click(f"{sel} th:nth-child(1)")
            names = page.eval(methods)
            assert names == sorted(names) and len(names) == 7
            before = page.eval(values)
            assert before != sorted(before)
            header = f"{sel} th:nth-child({col + 1})"
            page.click(header)
            asc = page.eval(values)
            assert asc == sorted(before) and page.eval(f"document.querySelector({json.dumps(header)})"
                                                       ".getAttribute('aria-sort')") == "ascending"
            assert page.eval(methods)[0] == "lbfgs + none"
            page.click(header)
            assert page.eval(values) == sorted(before, reverse=True)

            page.eval("window.scrollTo(0, 0)")
            _shot(page, out / "screenshot.png")
            page.eval("document.getElementById('figures').scrollIntoView()")
            _shot(page, out / "screenshot-figures.png")
            page.eval("document.getElementById('findings').scrollIntoView()")
            _shot(page, out / "screenshot-findings.png")

            # without JavaScript: the same tables and figures are there (only sorting is lost)
            nojs = Page(browser)
            nojs.send("Emulation.setScriptExecutionDisabled", {"value": True})
            nojs.goto((out / "index.html").resolve().as_uri())
            assert nojs.eval("document.querySelectorAll('table').length") == n_tables
            assert nojs.eval("document.querySelector('table th').getAttribute('aria-sort')") is None
        finally:
            browser.close()


def test_figures_legends_outside_and_no_empty_panels(report_dir):
    import matplotlib.pyplot as plt

    *_, ctx = report_dir
    figs = figure_objects(ctx)
    try:
        for name, (fig, _) in figs.items():
            assert legend_outside_axes(fig), name
            assert not empty_panels(fig), name
    finally:
        for fig, _ in figs.values():
            plt.close(fig)
