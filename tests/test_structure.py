"""The package layout issue 11 asks for: small modules, one per gallery card, old imports intact."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

BNVIZ = Path(__file__).resolve().parents[1] / "bnviz"


@pytest.mark.parametrize("folder", ["bnviz", "ui", "pages"])
def test_no_module_is_much_over_400_lines(folder: str) -> None:
    """Small modules with names that say what they hold: the project's rule, for every source file."""
    root = BNVIZ.parent / folder
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert sizes and max(sizes.values()) <= 410, {name: n for name, n in sizes.items() if n > 410}


def test_one_module_per_card_and_cards_take_keywords() -> None:
    from bnviz.gallery import EXPERIMENTS, Experiment

    found = []
    for path in sorted((BNVIZ / "gallery" / "cards").glob("*.py")):
        module = importlib.import_module(f"bnviz.gallery.cards.{path.stem}")
        cards = [v for v in vars(module).values() if isinstance(v, Experiment)]
        assert len(cards) == (0 if path.stem in ("__init__", "tutorial") else 1), path.name
        found += [c.slug for c in cards]
    assert sorted(found) == sorted(EXPERIMENTS) and len(found) == 11
    card = EXPERIMENTS["learning-rate"]
    values = [getattr(card, f.name) for f in dataclasses.fields(Experiment)]
    with pytest.raises(TypeError):
        Experiment(*values)  # keyword arguments only


def test_old_import_surfaces_still_work() -> None:
    from bnviz import figures, gallery
    from bnviz.data.loading import (  # noqa: F401
        DATASET_INFO,
        ENV_DATA_DIR,
        Dataset,
        DatasetError,
        clear_cache,
        data_dir,
        inspect_upload,
        load_dataset,
        read_idx_gz,
        write_idx_gz,
    )
    from bnviz.gallery import (  # noqa: F401
        EXPERIMENTS,
        SKIPPED,
        TOLERANCE,
        Arm,
        Experiment,
        Row,
        UnknownExperiment,
        aggregate_arm_metric,
        get_experiment,
    )

    for name in ("loss_curves", "compare_curves", "histogram_overlay", "bn_parameters", "image_grid",
                 "scatter_2d", "aggregate_series", "PALETTE", "sweep_figure", "published_vs_ours"):
        assert hasattr(figures, name), name
    for name in ("sweep_figure", "sweep_points", "median_drift", "bn_warmup", "final_value", "check_configs"):
        assert hasattr(gallery, name), name
