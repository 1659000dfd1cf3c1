"""Shared fixtures: an app with its own data directory, a live uvicorn server, and real Chromium."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_client(tmp_path):
    """Build a TestClient for settings overridden with keyword arguments."""
    def make(**overrides) -> TestClient:
        s = dataclasses.replace(Settings(data_dir=tmp_path / "data"), **overrides)
        return TestClient(create_app(s), raise_server_exceptions=False)
    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(live_server_process):
    return live_server_process[0]


@pytest.fixture(scope="session")
def live_server_process(tmp_path_factory):
    """`python -m app` on a free loopback port, as a user would start it; yields (base URL, process)."""
    port = _free_port()
    env = {**os.environ, "CONVLENS_DATA_DIR": str(tmp_path_factory.mktemp("live-data"))}
    # The server's log goes to a file, not a pipe: nobody reads a pipe while tests run, and once its
    # 64 KB buffer fills with access-log lines, uvicorn's event loop blocks in the write and every
    # client times out (CI saw exactly that in test_load).
    log_path = tmp_path_factory.mktemp("live-log") / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start: {log_path.read_text(errors='replace')[-2000:]}")
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageWatch:
    """Console errors and any request that leaves the server's origin, collected while a page runs."""

    def __init__(self, page, origin: str):
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: (r.url.startswith(origin) or r.url.startswith("data:") or
                                      r.url.startswith("blob:") or self.foreign.append(r.url)))


@contextlib.contextmanager
def page_at(browser, live_server: str, width: int = 1400, height: int = 1000, **context_options):
    """A page in a fresh context at this viewport, watched (console errors, requests off the origin), whose
    wait_for_function polls from Python (the CSP has no 'unsafe-eval': see wait_in_page). context_options:
    e.g. bypass_csp=True where axe-core is injected (tests/quality.py)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, **context_options)
    try:
        pg = ctx.new_page()
        pg.watch = PageWatch(pg, live_server)
        pg.wait_for_function = functools.partial(wait_in_page, pg)
        yield pg
    finally:
        ctx.close()


@pytest.fixture
def page(browser, live_server):
    with page_at(browser, live_server) as pg:
        yield pg


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ready(page, loads: int = 1):
    """Wait until a page has finished its n-th load (the pages count them in body[data-ready])."""
    page.wait_for_function(f"Number(document.body.dataset.ready || 0) >= {loads}", timeout=20000)


# --- hardening (issue 14): a live server with chosen settings, and its memory --------------------------

@contextlib.contextmanager
def running_app(tmp_path_factory, env: dict | None = None, workers: int = 1):
    """`python -m app --workers N` with extra CONVLENS_* environment on a free loopback port, its log in a
    file (never an unread pipe); yields (base URL, process, log path)."""
    port = _free_port()
    full_env = {**os.environ, "CONVLENS_DATA_DIR": str(tmp_path_factory.mktemp("hard-data")), **(env or {})}
    log_path = tmp_path_factory.mktemp("hard-log") / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--workers", str(workers)],
                                cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200 and len(worker_pids(proc)) >= workers:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"server did not start: {log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
            yield url, proc, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def worker_pids(proc) -> list[int]:
    """uvicorn's worker processes (the process itself when it runs one worker)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    # with several workers uvicorn also starts a resource tracker; workers are the ones serving
    return kids or [proc.pid]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except FileNotFoundError:
            pass
    return total


def wait_in_page(page, expression: str, timeout: float = 30000, **_):
    """page.wait_for_function, polled from here: Playwright's own polls the expression inside the page with
    eval, which the app's CSP forbids (no 'unsafe-eval'); page.evaluate runs through the DevTools protocol,
    which the CSP does not govern, so the pages are tested under their real policy."""
    from playwright.sync_api import Error, TimeoutError as PlaywrightTimeout
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            value = page.evaluate(expression)
            if value:
                return value
        except Error as exc:  # a navigation replaced the page's context: poll again
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise PlaywrightTimeout(f"waited {timeout:.0f} ms for: {expression}")
        page.wait_for_timeout(50)


def hover_text(page, plot_id: str, row: int, col: int, panel: int = 0) -> str:
    """Move the mouse over cell (row, col) of a canvas map and read its hover label."""
    page.locator(f"#{plot_id}").scroll_into_view_if_needed()
    pt = page.evaluate("([id, r, c, p]) => document.getElementById(id)._heatmap.centre(r, c, p)", [plot_id, row, col, panel])
    page.mouse.move(pt["x"], pt["y"])
    return page.inner_text(f"#{plot_id} .heat-tip")
