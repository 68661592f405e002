"""Issue 20 on a real server: upload attacks refused in one line while the server stays up and small.

AppTest (tests/test_upload_limits.py) shows the page's message; only a real `streamlit run app.py`
with its training workers shows what the whole process tree costs while it refuses an .npz bomb
and a 200,000-column CSV sent through the browser, that /_stcore/health keeps answering, and that
a run still trains afterwards.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e_app import streamlit_server, wait_for_app
from tests.test_upload_limits import write_npz_bomb, write_wide_csv
from ui import routes

pytestmark = pytest.mark.e2e
PEAK_LIMIT_MB = 1536  # main took the server and its helpers to 3.6 GB on the bomb alone


# --- what the server costs and whether it answers, sampled from threads -------------------------


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the process is gone
        return ""


def server_pid(port: int) -> int:
    """The `streamlit run` process listening on `port` (streamlit_server does not hand out its pid)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = _read(f"/proc/{entry.name}/cmdline").split("\0")
            if "streamlit" in " ".join(argv) and str(port) in argv:
                return int(entry.name)
    raise AssertionError(f"no streamlit process on port {port}")


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants (workers, the summary helper), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read(f"/proc/{entry.name}/stat")
            if stat:  # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")"
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        for line in _read(f"/proc/{pid}/status").splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


class Watch:
    """Two threads while the attacks run: the tree's RSS every ~50 ms, and /_stcore/health in a loop."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid
        self.rss: list[float] = []
        self.health: list[tuple[int, float]] = []  # (status, seconds)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._poll, daemon=True)]

    def __enter__(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.rss.append(tree_rss_mb(self.pid))
            self._stop.wait(0.05)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.health.append(health(self.url))
            self._stop.wait(0.05)

    @property
    def peak_mb(self) -> float:
        return max(self.rss)

    @property
    def max_latency_s(self) -> float:
        return max(seconds for _, seconds in self.health)


def health(url: str) -> tuple[int, float]:
    """The status of one /_stcore/health request (0: no answer within 30 s) and how long it took."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=30) as response:
            status = response.status
    except OSError:
        status = 0
    return status, time.perf_counter() - started


# --- the page -----------------------------------------------------------------------------------


def choose_dataset(page, title: str) -> None:
    page.locator("[data-testid='stSelectbox']").filter(has_text="Dataset").first.click()
    page.get_by_role("option", name=title, exact=True).click()
    page.get_by_text(f"Your .{title.rsplit('.', 1)[1]} file").first.wait_for(timeout=60_000)
    wait_for_app(page)


def upload_and_read_refusal(page, path: Path, starts: str) -> str:
    """Send `path` through the file uploader; the error the page shows for it."""
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(path))
    error = page.locator("[data-testid='stAlertContentError'] [data-testid='stMarkdownContainer']")
    error = error.filter(has_text=starts).first  # the message without its icon's name
    error.wait_for(timeout=120_000)
    wait_for_app(page)
    return error.inner_text().strip()


def test_upload_attacks_are_refused_while_the_server_stays_up_and_small(browser, tmp_path):
    bomb = write_npz_bomb(tmp_path / "zeros.npz")
    wide = write_wide_csv(tmp_path / "wide.csv")
    print(f"\nnpz bomb: {bomb.stat().st_size / 2**20:.1f} MB sent, 1,025 MB once unpacked; "
          f"wide CSV: {wide.stat().st_size / 2**20:.1f} MB")
    env = {"BNVIZ_EXECUTOR": "local", "BNVIZ_MAX_JOBS": "1"}
    with streamlit_server(tmp_path / "home", env=env) as url:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(routes.url("experiment", current=url))
        wait_for_app(page)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        before = tree_rss_mb(pid)

        with Watch(url, pid) as watch:
            choose_dataset(page, "Your .npz")
            npz_error = upload_and_read_refusal(page, bomb, "zeros.npz: its arrays take")
            choose_dataset(page, "Your .csv")
            csv_error = upload_and_read_refusal(page, wide, "wide.csv: its header names")
        assert npz_error == ("zeros.npz: its arrays take 1,025 MB once unpacked (x is 1,048,576×256 float32); "
                             "an upload may take at most 256 MB")
        assert csv_error == "wide.csv: its header names 200,000 columns; an upload may have at most 4,096"
        assert page.get_by_role("button", name="Train", exact=True).is_disabled()

        print(f"server and its children: {before:.0f} MB before the uploads, peak {watch.peak_mb:.0f} MB while "
              f"refusing them ({len(watch.rss)} samples); /_stcore/health: {len(watch.health)} requests, "
              f"max latency {watch.max_latency_s * 1000:.0f} ms")
        assert watch.rss and watch.health
        assert all(status == 200 for status, _ in watch.health), [s for s, _ in watch.health if s != 200]
        assert watch.peak_mb < PEAK_LIMIT_MB

        # Afterwards the server still answers, and a small run trains to the end.
        assert health(url)[0] == 200
        page.goto(f"{url}/?preset=seed001-circles-after-fast")
        wait_for_app(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_url("**?run=*", timeout=60_000)
        started = time.perf_counter()
        page.get_by_text("succeeded").first.wait_for(timeout=300_000)
        print(f"then a fast preset trained to 'succeeded' in {time.perf_counter() - started:.0f} s")
        context.close()
