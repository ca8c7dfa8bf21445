"""``grader.check`` as a student sees it: a real JupyterLab page in headless Chromium.

The test starts JupyterLab (test extra) on localhost, on a free port, with a token of its
own and its configuration, data and runtime folders in a temporary folder. It opens a
notebook beside the released assignments, runs its cells through the page, and reads the
check's output as rendered: styled without the report's CSS, the differing entries marked,
nothing wider than the notebook, a suggestion for a misspelt name; then saved and opened
again, when JupyterLab sanitises the untrusted outputs, still styled. Screenshots go to
tests/artifacts/jupyterlab-check*.png. Requests leaving localhost are refused.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import ARTIFACTS, chromium, chromium_path

ROOT = Path(__file__).resolve().parent.parent
SIGN_FLIPPED = '''import numpy as np

def update_parameters_with_gd(parameters, grads, learning_rate):
    """A common mistake: the step goes up the gradient."""
    return {k: v + learning_rate * grads["d" + k] for k, v in parameters.items()}
'''
CELLS = [
    SIGN_FLIPPED,
    'import grader\ngrader.check("update_parameters_with_gd")',
    'grader.check("update_parameters_with_gdd")',
]
SERVER_START_SECONDS = 180  # JupyterLab on a busy machine
NEVER_CHECK_FOR_UPDATES = "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_server(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server over a folder holding the released assignments and Check.ipynb."""
    chromium_path()  # no browser: skip (or fail in CI) before starting a server
    folder = tmp_path / "course"
    shutil.copytree(ROOT / "assignments", folder)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(folder / "Check.ipynb"))
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "jupyter"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
    log = tmp_path / "jupyterlab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={port}", "--port-retries=0", f"--ServerApp.token={token}",
             f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
             "--LabApp.extension_manager=readonly", "--LabApp.news_url=", NEVER_CHECK_FOR_UPDATES],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", server, log)
        yield f"{base}/lab/tree/Check.ipynb?token={token}", base, folder
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.kernel
def test_check_output_is_styled_inside_jupyterlab(jupyterlab, capsys):
    url, base, folder = jupyterlab
    with chromium() as browser:
        page = browser.new_page(width=1280, height=1000)
        outside: list[str] = []

        def only_local(route) -> None:
            if route.request.url.startswith(base):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                               timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output .grader-check').length >= 2",
                               timeout=180_000)
        fragments = page.locator(".jp-OutputArea-output .grader-check")
        failing, misspelt = fragments.nth(0), fragments.nth(1)

        text = " ".join(failing.inner_text().split())
        assert "update_parameters_with_gd: 0 of" in text and "public checks pass" in text
        assert "differs:" not in text, "no stray screen-reader text"
        box = failing.evaluate("e => { const s = getComputedStyle(e); return [s.borderTopWidth, s.backgroundColor]; }")
        assert box == ["1px", "rgb(255, 255, 255)"], box
        badge = failing.locator("span").first
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(251, 233, 231)"
        marked = failing.locator("td[title='differs from the expected value']")
        assert marked.count() > 0, "differing entries are marked"
        assert marked.first.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).fontWeight]") \
            == ["rgb(251, 233, 231)", "700"]
        assert marked.first.inner_text().startswith("≠")
        wide = failing.evaluate("e => { const area = e.closest('.jp-OutputArea-output');"
                                " return [e.getBoundingClientRect().right, area.getBoundingClientRect().right]; }")
        assert wide[0] <= wide[1] + 1, f"the fragment runs past the output area: {wide}"

        suggestion = " ".join(misspelt.inner_text().split())
        assert "did you mean 'update_parameters_with_gd'?" in suggestion

        no_news = page.get_by_role("button", name="No")
        if no_news.count():  # JupyterLab's question about its news feed, over the output
            no_news.first.click()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "jupyterlab-check.png"
        page.screenshot(path=str(shot), full_page=True)

        # The notebook saved, changed (so no longer signed) and opened again: its outputs are
        # untrusted and JupyterLab sanitises them, as for a notebook handed to someone else.
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=60_000)
        saved = nbformat.read(str(folder / "Check.ipynb"), as_version=4)
        assert "text/html" in saved.cells[1].outputs[0].data, "the check's HTML was saved"
        saved.cells[0].outputs = [nbformat.v4.new_output("display_data", data={
            "text/html": '<span class="sanitiser-probe" onclick="document.title = 1">probe</span>'})]
        nbformat.write(saved, str(folder / "Untrusted.ipynb"))
        page.goto(url.replace("Check.ipynb", "Untrusted.ipynb"), wait_until="domcontentloaded")
        page.wait_for_selector(".sanitiser-probe", timeout=120_000)
        assert page.locator(".sanitiser-probe").get_attribute("onclick") is None, "outputs were sanitised"
        panel = page.locator(".jp-NotebookPanel", has=page.locator(".sanitiser-probe"))
        reopened = panel.locator(".jp-OutputArea-output").nth(1)  # the first is the probe
        assert "0 of" in reopened.inner_text()
        kept = reopened.locator("span").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert kept == "rgb(251, 233, 231)", "inline styles survive JupyterLab's sanitiser"
        reshot = ARTIFACTS / "jupyterlab-check-reopened.png"
        page.screenshot(path=str(reshot), full_page=True)
        assert not outside, f"requests left localhost: {outside[:5]}"
    with capsys.disabled():
        print(f"\nscreenshots: {shot}, {reshot}")
