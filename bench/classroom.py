"""Classroom load: one teacher starts a run in a real browser, N students watch it over Streamlit's own protocol.

Students are protocol-level clients (websocket + Streamlit protobufs, fragment auto-reruns honoured), so their
rendering costs nothing here, as in a real room where every student has a laptop of their own. For one run it
measures: training wall time, how stale each student's loss chart is (epoch end in the store -> a chart that shows
that epoch), how many students' charts reached the last epoch, bytes sent per student per second, the server
process's CPU share of the machine and its CPU milliseconds per student per second.

    python bench/classroom.py . --students 30 [--preset seed001-circles-after] [--port P]

Run it from the project root with the project's Python (requirements-dev.txt: streamlit brings websockets; playwright
drives Debian's chromium). It relies on: `?preset=NAME` pre-filling the Experiment page, a button named exactly
"Train", the URL gaining `?run=<id>`, a Plotly chart titled "... Loss ... during training" with a trace named "train",
and the run store's `runs` table (columns id, n_epochs, status, summary_json) in BNVIZ_HOME/runs.db. Compare with
--students 0 in the same sitting: the ratio, not the absolute time, is the figure. Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


def loss_epochs(spec: str) -> int | None:
    """Epoch points on the 'Loss during training' chart, or None for another chart."""
    try:
        fig = json.loads(spec)
    except ValueError:
        return None
    title = json.dumps(fig.get("layout", {}).get("title", ""))
    if "Loss" not in title or "during training" not in title:
        return None
    for trace in fig.get("data", []):
        if trace.get("name") == "train":
            x = trace.get("x")
            if isinstance(x, list):
                return len(x)
            if isinstance(x, dict) and "bdata" in x:
                import base64

                size = {"i1": 1, "u1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "f4": 4, "f8": 8}.get(x.get("dtype"), 8)
                return len(base64.b64decode(x["bdata"])) // size
    return 0


class Student:
    def __init__(self, url: str, query: str) -> None:
        self.url, self.query = url, query
        self.seen: dict[int, float] = {}  # epoch -> first time the chart showed it
        self.bytes = 0
        self.msgs = 0
        self.errors: list[str] = []
        self.page_hash = ""
        self.fragment_timers: dict[str, float] = {}
        self.exceptions = 0

    def _rerun(self, fragment: str = "") -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        if fragment:
            cs.fragment_id = fragment
            cs.is_auto_rerun = True
        return msg.SerializeToString()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with websockets.connect(self.url, subprotocols=["streamlit"], max_size=2**27) as ws:
                await ws.send(self._rerun())
                timers: list[asyncio.Task] = []

                async def every(fid: str, interval: float) -> None:
                    while not stop.is_set():
                        await asyncio.sleep(interval)
                        await ws.send(self._rerun(fid))

                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    self.bytes += len(raw)
                    self.msgs += 1
                    fm = ForwardMsg()
                    fm.ParseFromString(raw)
                    kind = fm.WhichOneof("type")
                    if kind == "new_session":
                        self.page_hash = fm.new_session.page_script_hash or self.page_hash
                    elif kind == "page_info_changed":
                        pass
                    elif kind == "auto_rerun":
                        fid = fm.auto_rerun.fragment_id
                        if fid not in self.fragment_timers:
                            self.fragment_timers[fid] = fm.auto_rerun.interval
                            timers.append(asyncio.create_task(every(fid, fm.auto_rerun.interval)))
                    elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                        el = fm.delta.new_element
                        which = el.WhichOneof("type")
                        if which == "plotly_chart":
                            n = loss_epochs(el.plotly_chart.spec)
                            if n:
                                now = time.time()
                                for e in range(1, n + 1):
                                    self.seen.setdefault(e, now)
                        elif which == "exception":
                            self.exceptions += 1
                for t in timers:
                    t.cancel()
        except Exception as exc:  # a student that drops out is a finding, not a crash of the tool
            self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def watch_store(db: Path, run_id: str, ended: dict[int, float], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            row = con.execute("SELECT n_epochs, status FROM runs WHERE id=?", (run_id,)).fetchone()
            con.close()
            if row:
                now = time.time()
                for e in range(1, int(row[0]) + 1):
                    ended.setdefault(e, now)
        except sqlite3.Error:
            pass
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout")
    ap.add_argument("--students", type=int, default=10)
    ap.add_argument("--preset", default="seed001-circles-after")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--details", help="also write every epoch's end and each student's first sight of it (JSON)")
    a = ap.parse_args()
    port = a.port or 20000 + os.getpid() % 20000
    home = Path(tempfile.mkdtemp(prefix="classroom-"))
    env = dict(os.environ, BNVIZ_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3")
    log = open(home / "server.log", "w")  # noqa: SIM115 - the server writes to it until the end
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                              cwd=a.checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    result: dict = {"students": a.students, "preset": a.preset}
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/_stcore/health", timeout=1)
                break
            except Exception:
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/?preset={a.preset}")
            page.get_by_text("Your model").wait_for(timeout=90_000)
            page.wait_for_timeout(1500)
            cpu0, t_click = cpu_seconds(server.pid), time.time()
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_url("**?run=*", timeout=60_000)
            run_id = page.url.split("run=")[1].split("&")[0]
            page.goto("about:blank")  # the teacher's tab leaves; only students load the server
            ended: dict[int, float] = {}
            stop_t = threading.Event()
            threading.Thread(target=watch_store, args=(home / "runs.db", run_id, ended, stop_t), daemon=True).start()
            students = [Student(f"ws://127.0.0.1:{port}/_stcore/stream", f"run={run_id}") for _ in range(a.students)]

            async def room() -> None:
                stop = asyncio.Event()
                tasks = [asyncio.create_task(s.run(stop)) for s in students]
                deadline = time.time() + a.timeout
                while time.time() < deadline:
                    await asyncio.sleep(0.5)
                    con = sqlite3.connect(f"file:{home / 'runs.db'}?mode=ro", uri=True, timeout=1)
                    row = con.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
                    con.close()
                    if row and row[0] not in ("queued", "running"):
                        await asyncio.sleep(3)  # let students catch the last epoch
                        break
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

            worker = threading.Thread(target=lambda: asyncio.run(room()))  # Playwright owns this thread's loop
            worker.start()
            worker.join()
            stop_t.set()
            cpu1, t_end = cpu_seconds(server.pid), time.time()
            browser.close()
        con = sqlite3.connect(f"file:{home / 'runs.db'}?mode=ro", uri=True)
        status, summary = con.execute("SELECT status, summary_json FROM runs WHERE id=?", (run_id,)).fetchone()
        summary = json.loads(summary or "{}")
        lags = [s.seen[e] - ended[e] for s in students for e in s.seen if e in ended]
        missing = sum(len(ended) - len(s.seen) for s in students)
        dur = t_end - t_click
        result.update({
            "status": status, "epochs": len(ended), "train_wall_s": summary.get("wall_time_s"),
            "click_to_end_s": round(dur, 1),
            "server_cpu_share": round((cpu1 - cpu0) / dur / (os.cpu_count() or 1), 2),
            "lag_median_s": round(statistics.median(lags), 2) if lags else None,
            "lag_p90_s": round(sorted(lags)[int(0.9 * (len(lags) - 1))], 2) if lags else None,
            "lag_max_s": round(max(lags), 2) if lags else None,
            "epochs_never_seen": missing,
            "students_reaching_last_epoch": sum(1 for s in students if ended and max(ended) in s.seen),
            "server_ms_per_student_per_s": round((cpu1 - cpu0) * 1000 / dur / len(students), 2) if students else None,
            "kB_per_student_per_s": round(statistics.mean(s.bytes for s in students) / dur / 1024, 1)
            if students else 0,
            "student_errors": sum(len(s.errors) for s in students),
            "exceptions_shown": sum(s.exceptions for s in students),
        })
        if any(s.errors for s in students):
            result["first_error"] = next(s.errors[0] for s in students if s.errors)
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
        server.kill()  # nothing left to kill once it stopped
    if a.details:
        Path(a.details).write_text(json.dumps({"ended": ended, "seen": [s.seen for s in students]}))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
