"""What a reproduction run will do, decided before anything trains: the cards, their arms × seeds, the
backend every arm trains on, and which arms the run store already holds.

Made up front so that `reproduce --dry-run` prints exactly what a run would do, a backend that is not
installed is refused before the first arm, and the progress lines can estimate the time left from the
arms still to train (not the ones that will be reused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bnviz.settings import BACKENDS
from bnviz.states import RESULTS

if TYPE_CHECKING:  # the CLI's parser imports this module for BACKEND_CHOICES: no gallery (Plotly) then
    from bnviz.gallery import Arm, Experiment

AUTO = "auto"
BACKEND_CHOICES = (AUTO, *BACKENDS)
TRAIN, REUSE, SHARE = "train", "reuse", "share"


def resolve_backend(name: str | None) -> str | None:
    """The backend every arm trains on. `auto`: the fastest one installed here (jax, else tensorflow);
    a named one must be installed (BackendError naming the installed ones). None: each config's own."""
    if name is None:
        return None
    from bnviz.train.backends import available_backends, require  # finds them without importing them

    if name == AUTO:
        return "jax" if "jax" in available_backends() else require("tensorflow")
    return require(name)


@dataclass(frozen=True)
class Planned:
    experiment: Experiment
    arm: Arm
    action: str  # train | reuse (a finished identical run is in the store) | share (an earlier arm's twin)


@dataclass
class Plan:
    fast: bool
    backend: str | None
    arms: list[Planned] = field(default_factory=list)
    seeds: dict[str, int] = field(default_factory=dict)  # card slug -> seeds per arm

    def count(self, action: str) -> int:
        return sum(1 for p in self.arms if p.action == action)

    def uniform_seeds(self) -> int | None:
        """The seeds per arm when every card has the same number, else None."""
        counts = set(self.seeds.values())
        return counts.pop() if len(counts) == 1 else None

    def lines(self) -> list[str]:
        """The plan in words (`--dry-run`): one line overall, one per card."""
        variant = "fast classroom variants" if self.fast else "full-size variants"
        backend = self.backend or "each config's own backend"
        out = [f"plan: {len(self.seeds)} cards, {len(self.arms)} arms ({variant}) on {backend}: "
               f"{self.count(TRAIN)} to train, {self.count(REUSE)} reused from the store, "
               f"{self.count(SHARE)} shared between arms with identical configs"]
        for slug, seeds in self.seeds.items():
            mine = [p for p in self.arms if p.experiment.slug == slug]
            configs = [p.arm.config for p in mine]
            settings = ", ".join(p for p in (
                _span("epochs", [c.training.epochs for c in configs]),
                _span("batch size", [c.training.batch_size for c in configs]),
                _data(configs)) if p)
            out.append(f"  {slug}: {len(mine) // seeds} arms × {seeds} seed{'s' if seeds != 1 else ''} = "
                       f"{len(mine)} runs; {settings}; {sum(p.action == TRAIN for p in mine)} to train, "
                       f"{sum(p.action == REUSE for p in mine)} reused")
        return out


def make_plan(experiments: Sequence[Experiment], *, fast: bool, seeds: int | None = None,
              backend: str | None = None, store=None, fresh: bool = False) -> Plan:
    """Every arm to run, in order. `seeds` None: each card's own default (Experiment.default_seeds);
    `backend` (already resolved) replaces every config's training.backend, so the fingerprint, and with it
    the reuse of finished runs, is per backend. Without a `store` nothing counts as reusable."""
    plan = Plan(fast=fast, backend=backend)
    seen: set[str] = set()
    for exp in experiments:
        n = seeds if seeds is not None else exp.default_seeds(fast)
        if n < 1:
            raise ValueError(f"--seeds must be at least 1, got {n}")
        plan.seeds[exp.slug] = n
        for arm in exp.arms(fast and not exp.report_full, n):
            if backend is not None and arm.config.training.backend != backend:
                arm = replace(arm, config=arm.config.with_updates({"training.backend": backend}))
            fp = arm.config.fingerprint()
            if fp in seen:
                action = SHARE
            elif not fresh and store is not None and finished_run(store, fp) is not None:
                action = REUSE
            else:
                action = TRAIN
            seen.add(fp)
            plan.arms.append(Planned(exp, arm, action))
    return plan


def finished_run(store, fingerprint: str) -> str | None:
    """The id of a finished run with this fingerprint, if the store has one."""
    for status in RESULTS:
        run_id = store.find_by_fingerprint(fingerprint, status=status)
        if run_id:
            return run_id
    return None


def _span(name: str, values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{name} {lo}" if lo == hi else f"{name} {lo}–{hi}"


def _data(configs) -> str:
    names = sorted({c.dataset.name for c in configs})
    sizes = {c.dataset.n_train for c in configs}
    size = ("the whole training set" if sizes == {None}
            else "/".join(f"{n:,}" if n is not None else "all" for n in sorted(sizes, key=lambda n: n or 10**9))
            + " training examples")
    return f"{', '.join(names)} ({size})"
