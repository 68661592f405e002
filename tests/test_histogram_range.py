"""Histograms show the values: bins widen when the values outgrow them (issue 22)."""

from __future__ import annotations

import math

from bnviz import get_preset
from bnviz.train.training import train


def _outside(position: dict) -> float:
    hist = position["hist"]
    total = sum(hist["counts"]) + hist["below"] + hist["above"]
    return (hist["below"] + hist["above"]) / total


def test_the_circles_models_inference_mode_bn_output_stays_inside_its_bins():
    config = get_preset("seed001-circles-after-fast").config
    assert config.training.epochs >= 30
    record = train(config)
    assert record["status"] == "succeeded", record["summary"]["error"]
    probe = next(p for p in record["probes"] if p["epoch"] == 30)
    inference = [p for p in probe["positions"] if p["kind"] == "bn_output_inference"]
    assert inference
    for position in inference:
        assert _outside(position) < 0.01, (position["layer"], _outside(position))
    # every position, every epoch: what lies outside the drawn range is at most a sliver
    for p in record["probes"]:
        for position in p["positions"]:
            assert _outside(position) < 0.01, (p["epoch"], position["layer"], position["kind"])
    # ranges only widen, on the power-of-two ladder, with the bin width of the ladder (R/32 for 64 bins)
    bins = config.instrument.bins
    first = {(q["layer"], q["kind"]): q["hist"]["edges"] for q in record["probes"][0]["positions"]}
    widened = 0
    for p in record["probes"]:
        for position in p["positions"]:
            edges = position["hist"]["edges"]
            lo, hi = edges[0], edges[-1]
            start = first[(position["layer"], position["kind"])]
            assert lo <= start[0] and hi >= start[-1]
            assert math.log2(hi).is_integer() and lo in (0.0, -hi)
            assert len(edges) - 1 == (bins if lo < 0 else bins // 2)
            widened += lo < start[0] or hi > start[-1]
    assert widened  # this run's values do outgrow the first probe's bins (before: 58-61% outside)
