"""The boundary, BN step-by-step and TensorBoard panels on the real pages, with real recorded runs."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import open_app
from tests.conftest import tiny_config
from ui import routes

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _stored_real_run(name: str, placement: str) -> str:
    from bnviz.store import RunStore
    from bnviz.train.training import train

    config = tiny_config(**{"model.norm.placement": placement})
    with RunStore() as store:
        run_id = store.create_run(config, owner="test", name=name, status="queued")
        train(config, sink=lambda e: store.append_event(run_id, e), run_id=run_id)
    return run_id


def _trace_types(at: AppTest) -> list[set[str]]:
    return [{t.get("type") for t in json.loads(c.proto.spec).get("data", [])} for c in at.get("plotly_chart")]


def test_run_page_shows_the_boundary_and_bn_step_by_step():
    run_id = _stored_real_run("circles with BN", "after")
    at = open_app(None, run=run_id)
    at.run()
    assert not at.exception, at.exception
    assert any("heatmap" in types for types in _trace_types(at))
    assert any("TensorBoard" in str(b.proto) for b in at.get("download_button"))
    at.segmented_control(key="run_boundary_mode").set_value("animation").run()
    assert not at.exception, at.exception
    at.segmented_control(key="view").set_value("bn_steps").run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert {"μ_B", "σ²_B", "γ", "β", "moving mean", "moving variance"} <= set(labels)
    assert any("x̂ = (x − μ_B)" in m.value for m in at.markdown)
    at.number_input(key="steps_unit_dense1_bn").set_value(5).run()
    assert not at.exception, at.exception
    assert any("unit 5" in m.value for m in at.markdown)


def test_compare_shows_the_runs_boundaries_side_by_side():
    a = _stored_real_run("with BN", "after")
    b = _stored_real_run("without BN", "none")
    at = open_app(None, runs=f"{a},{b}")
    at.switch_page(routes.file("compare"))
    at.run()
    assert not at.exception, at.exception
    side = [types for types in _trace_types(at) if "heatmap" in types]
    assert side, "a side-by-side boundary figure"
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "heatmap" in {t.get("type") for t in json.loads(c.proto.spec)["data"]})
    assert sum(t["type"] == "heatmap" for t in spec["data"]) == 2


SERVE_PANELS = r"""
import json, sys
from streamlit.testing.v1 import AppTest
from ui import routes
run_a, run_b = sys.argv[1], sys.argv[2]
for page, params, view in [("run", {"run": run_a}, None), ("run", {"run": run_a}, "bn_steps"),
                           ("compare", {"runs": f"{run_a},{run_b}"}, None)]:
    at = AppTest.from_file("app.py", default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(routes.file(page))
    at.run()
    if view:
        at.segmented_control(key="view").set_value(view).run()
    assert not at.exception, (page, [e.value for e in at.exception])
    assert any("heatmap" in c.proto.spec or "sample examples" in c.proto.spec for c in at.get("plotly_chart")), page
print(json.dumps({m: m in sys.modules for m in ("tensorflow", "keras", "jax", "torch")}))
"""


def test_the_panels_load_no_training_framework_in_the_web_process(tmp_path):
    import os
    import subprocess
    import sys

    a = _stored_real_run("with BN", "after")
    b = _stored_real_run("without BN", "none")
    env = {**os.environ, "BNVIZ_EXECUTOR": "none", "PYTHONPATH": str(Path(APP).parent)}
    done = subprocess.run([sys.executable, "-c", SERVE_PANELS, a, b], cwd=Path(APP).parent, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"tensorflow": False, "keras": False, "jax": False, "torch": False}
