"""Drive the real dashboard: `streamlit run app.py` on a free port, in headless Debian Chromium.

Shared by the end-to-end test (tests/test_e2e.py) and the latency benchmark
(bench/bench_browser_latency.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("BNVIZ_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_chromium() -> str:
    """Debian's Chromium, or skip (locally) / fail (in CI) saying how to get it."""
    import pytest

    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(home: Path, env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """Start the app, wait until it answers, yield its URL, stop it."""
    port = free_port()
    full_env = {**os.environ, "BNVIZ_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
    log = log or home / "streamlit.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(url + "/_stcore/health", proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout}s:\n{log.read_text()[-2000:]}")


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Streamlit is idle: the app rendered and no script is running."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout)


CURVE_POINTS_JS = """
() => {
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  const loss = plots.find(p => p.layout && p.layout.title &&
                               String(p.layout.title.text || '').toLowerCase().startsWith('loss'));
  if (!loss || !loss.data) return {batches: -1, epochs: -1};
  const count = test => { const t = loss.data.find(d => test(d.name || '')); return t && t.x ? t.x.length : 0; };
  return {batches: count(n => n.startsWith('train (')), epochs: count(n => n === 'train')};
}
"""


def curve_points(page) -> dict[str, int]:
    """Points on the run page's loss chart: logged batches and finished epochs (-1: no chart yet)."""
    return page.evaluate(CURVE_POINTS_JS)


HISTOGRAM_TITLE_JS = """
() => { const p = Array.from(document.querySelectorAll('.js-plotly-plot')).find(p => p.layout && p.layout.title &&
          String(p.layout.title.text || '').startsWith('Distributions'));
        return p ? String(p.layout.title.text) : ''; }
"""


def histogram_title(page) -> str:
    """The title of the first before/after histogram chart on the page ("" if none yet)."""
    return page.evaluate(HISTOGRAM_TITLE_JS)
