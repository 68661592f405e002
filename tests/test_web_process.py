"""The web process serves pages and nothing else: no training framework, no private Streamlit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVE_EVERY_PAGE = r"""
import json, sys
from streamlit.testing.v1 import AppTest
from bnviz.store import RunStore
from tests.fake_trainer import train
from tests.test_jobs import cfg
from ui import routes

store = RunStore()
run_id = store.create_run(cfg(), owner="t", name="stored", status="running")
train(cfg(), sink=lambda e: store.append_event(run_id, e), run_id=run_id)
queued = store.create_run(cfg(**{"training.seed": 7}), owner="t", name="waiting")
for page, params in [("experiment", {}), ("run", {"run": run_id}), ("run", {"run": queued}),
                     ("compare", {"runs": run_id}), ("runs", {}), ("learn", {})]:
    at = AppTest.from_file("app.py", default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(routes.file(page))
    at.run()
    assert not at.exception, (page, [e.value for e in at.exception])
print(json.dumps({m: m in sys.modules for m in ("tensorflow", "keras", "jax", "torch")}))
"""


def test_serving_every_page_loads_no_training_framework(tmp_path):
    env = {**os.environ, "BNVIZ_HOME": str(tmp_path / "home"), "BNVIZ_EXECUTOR": "none",
           "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", SERVE_EVERY_PAGE], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"tensorflow": False, "keras": False, "jax": False, "torch": False}


def test_no_page_or_ui_module_touches_a_private_streamlit_module():
    pattern = re.compile(r"_clean_problem_modules|scriptrunner|streamlit\.runtime|from streamlit\.[a-z_.]*\._")
    offenders = [f"{path.relative_to(REPO)}:{n}" for folder in ("ui", "pages") for path in (REPO / folder).rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_a_spawned_helper_process_that_re_imports_app_py_serves_no_app(monkeypatch):
    """multiprocessing's spawn runs the main script again as `__mp_main__` in the model-summary
    helper (bnviz/train/describe.py); there app.py must not start an executor (a second set of workers,
    or a second Ray instance) nor render pages."""
    import runpy

    import ui.service

    def no_manager():
        raise AssertionError("app.py started the job manager in a helper process")

    monkeypatch.setattr(ui.service, "manager", no_manager)
    runpy.run_path(str(REPO / "app.py"), run_name="__mp_main__")
