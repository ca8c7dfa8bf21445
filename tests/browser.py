"""Open our HTML pages in a real headless Chromium and record what went wrong in them.

The browser is Debian's ``chromium`` (the first browser test installs it when it is missing
and the tests run as root with apt-get, as in CI),
driven by Playwright for Python. Playwright's own browser downloads are never used:
it is pointed at the system binary, so nothing is fetched while testing.

Without Chromium the tests fail when the ``CI`` environment variable is set and are
skipped, with the reason, on a developer's machine.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots; git-ignored
CHROMIUM_ENV = "NBAUTOGRADE_CHROMIUM"  # another Chromium binary, if not /usr/bin/chromium
# Headless as root, no GPU, and no background traffic that could count as a request of the page.
LAUNCH_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HELP = "install it with `apt-get install -y chromium` (Debian); as root the tests do it themselves"


def _unavailable(reason: str):
    """Fail in CI, where the browser must be there; skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests need Chromium: {reason}")


def _install_chromium() -> None:
    """Debian's chromium, installed by the test run itself where it may (root, apt-get):
    the README's test command is all CI runs, so the suite brings what it needs."""
    if os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or not shutil.which("apt-get"):
        return
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            return


def chromium_path() -> str:
    _install_chromium()
    wanted = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(wanted).is_file():
        _unavailable(f"no Chromium at {wanted}; {INSTALL_HELP}")
    return wanted


@dataclass
class Visit:
    """One page load: the Playwright page and everything that went wrong while loading it."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)  # anything not file: or data:

    @property
    def problems(self) -> list[str]:
        return ([f"console: {m}" for m in self.console_errors]
                + [f"request failed: {r}" for r in self.failed_requests]
                + [f"request outside the page's folder: {r}" for r in self.outside_requests])

    def text(self) -> str:
        """The rendered text a reader sees, whitespace collapsed."""
        return " ".join(self.page.inner_text("body").split())

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class Browser:
    def __init__(self, playwright_browser) -> None:
        self._browser = playwright_browser

    def open(self, path: Path, *, javascript: bool = True) -> Visit:
        """Load a local HTML file in a fresh page, watching the console and every request."""
        context = self._browser.new_context(viewport={"width": 1200, "height": 900}, java_script_enabled=javascript)
        page = context.new_page()
        visit = Visit(page)
        self.watch(visit)
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        return visit

    def new_page(self, *, width: int = 1200, height: int = 900):
        """A fresh page in a context of its own, for a page served over HTTP (JupyterLab)."""
        return self._browser.new_context(viewport={"width": width, "height": height}).new_page()

    @staticmethod
    def watch(visit: Visit) -> None:
        def console(message) -> None:
            if message.type == "error":
                visit.console_errors.append(message.text)

        def response(reply) -> None:
            if reply.status >= 400:
                visit.failed_requests.append(f"{reply.url} ({reply.status})")

        def request(sent) -> None:
            if sent.url.split(":", 1)[0] not in ("file", "data"):
                visit.outside_requests.append(sent.url)

        page = visit.page
        page.on("console", console)
        page.on("pageerror", lambda error: visit.console_errors.append(f"uncaught {error}"))
        page.on("requestfailed", lambda failed: visit.failed_requests.append(f"{failed.url} ({failed.failure})"))
        page.on("response", response)
        page.on("request", request)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    executable = chromium_path()
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the Python package 'playwright' is missing; install the test extra: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_FLAGS)
        except Error as exc:
            _unavailable(f"{executable} would not start: {str(exc).splitlines()[0]}")
        try:
            yield Browser(launched)
        finally:
            launched.close()
