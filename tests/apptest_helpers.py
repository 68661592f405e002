"""AppTest helpers for the class-experience tests: sessions, stored and crafted runs, chart specs.

`fake_trainer_env` is an autouse fixture for the modules that import it: the fast fake trainer (in a worker thread),
no cached downloads (so MNIST is missing), no admin key; jobs left running are cancelled.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.presets import PRESETS
from tests.fake_trainer import train as fake_train
from tests.fakes import make_fake_record
from ui import routes

APP = str(Path(__file__).resolve().parents[1] / "app.py")
BASE = PRESETS["seed001-circles-after-fast"].config


@pytest.fixture(autouse=True)
def fake_trainer_env(monkeypatch, tmp_path, fake_worker):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached downloads: MNIST is missing
    monkeypatch.delenv("BNVIZ_DATA_DIR", raising=False)
    monkeypatch.delenv("BNVIZ_ADMIN_KEY", raising=False)
    yield
    from bnviz.states import is_active
    from ui.service import manager

    for row in manager().store.list_runs():
        if is_active(row["status"]):
            manager().cancel(row["id"])


def open_app(page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(routes.file(page))
    return at


def query_param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def stored_run(name="stored run", owner="test", **updates) -> str:
    from bnviz.store import RunStore

    config = BASE.with_updates({"training.epochs": 3, **updates})
    with RunStore() as store:
        run_id = store.create_run(config, owner=owner, name=name, status="running")
        fake_train(config, sink=lambda e: store.append_event(run_id, e), run_id=run_id)
    return run_id


def crafted_run(history: dict[str, list[float]], *, status="succeeded", name="crafted", **updates) -> str:
    """A finished run whose epochs carry exactly `history` (and fake probes for each epoch)."""
    from bnviz.store import RunStore

    epochs = len(history["loss"])
    config = BASE.with_updates({"training.epochs": epochs, **updates})
    fake = make_fake_record(blocks=1, epochs=epochs, units=8)
    with RunStore() as store:
        run_id = store.create_run(config, owner="test", name=name, status="running")
        store.append_event(run_id, {"type": "start", "device": "CPU", "params": fake["summary"]["params"],
                                    "layers": []})
        store.append_event(run_id, {"type": "probe", "probe": fake["probes"][0]})
        for e in range(1, epochs + 1):
            store.append_event(run_id, {"type": "epoch", "epoch": e, "logs": {k: v[e - 1] for k, v in history.items()}})
            store.append_event(run_id, {"type": "probe", "probe": fake["probes"][e]})
        final = {k: v[-1] for k, v in history.items()}
        store.append_event(run_id, {"type": "end", "status": status, "summary": {
            "final": final, "wall_time_s": 1.0, "device": "CPU", "epochs_completed": epochs,
            "diverged_at": {"epoch": epochs, "batch": 3} if status == "diverged" else None, "error": None}})
    return run_id


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [(f["layout"].get("title") or {}).get("text", "") for f in chart_specs(at)]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def page_texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def raw_config_token(data: dict) -> str:
    """A config link for raw (possibly invalid) settings, encoded as bnviz encodes configs."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return "1" + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def start_live_run(monkeypatch, epochs: int, epoch_s: float = 0.3) -> tuple[AppTest, str]:
    """An owner's session trains a run (slowly enough to watch); returns that session and the run id."""
    monkeypatch.setenv("BNVIZ_FAKE_EPOCH_S", str(epoch_s))
    owner = open_app()
    owner.run()
    owner.number_input(key="f:training.epochs").set_value(epochs).run()
    button(owner, "Train").click().run()
    assert not owner.exception, owner.exception
    return owner, query_param(owner, "run")


