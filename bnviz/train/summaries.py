"""Summaries of one probed tensor, computed on the device with `keras.ops` (any backend).

A probe records, per position, a fixed-bin histogram and a few statistics. Computing them
where the tensor lives and copying only those few numbers to the host keeps probing cheap
(a conv layer's feature maps would otherwise be copied out whole every epoch). Non-finite
values are left out of every statistic, as a diverging run would otherwise poison them.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

MAX_ROWS = 8192  # feature-map positions kept per tensor: 256 images x 26 x 26 would be 173,056
MAX_PERCENTILE_SAMPLES = 200_000
STAT_NAMES = ("mean", "std", "min", "max", "p15", "p50", "p85", "unit_mean_abs", "unit_std", "saturated", "dead")


def rows(t):
    """Feature maps as (positions, channels), keeping a fixed, evenly spread subset of positions.

    Statistics of a conv layer's channels don't need every pixel of every probe image. Dense
    outputs (one row per example) are kept whole."""
    if len(t.shape) <= 2:
        return t
    flat = ops.reshape(t, (-1, t.shape[-1]))
    n = flat.shape[0]
    if n <= MAX_ROWS:
        return flat
    keep = np.sort(np.random.default_rng(0).choice(n, MAX_ROWS, replace=False)).astype("int32")
    return ops.take(flat, keep, axis=0)


def unit_stats(t, dead: bool):
    """[unit_mean_abs, unit_std, dead share] of one (positions, units) tensor; non-finite values count as 0.

    unit_mean_abs: mean over units of |per-unit mean|; unit_std: mean over units of the per-unit std;
    dead: share of units <= 0 on every row (NaN unless `dead`)."""
    u = ops.cast(t, "float32")
    u = ops.reshape(u, (-1, 1)) if len(u.shape) == 1 else u
    clean = ops.where(ops.isfinite(u), u, 0.0)
    dead_share = (ops.mean(ops.cast(ops.max(clean, axis=0) <= 0, "float32")) if dead
                  else ops.convert_to_tensor(math.nan, "float32"))
    return ops.stack([ops.mean(ops.abs(ops.mean(clean, axis=0))), ops.mean(ops.std(clean, axis=0)), dead_share])


def _padded(flats: list, size: int):
    """Rows of different lengths as one (rows, size) matrix, NaN-padded (NaN is left out of everything)."""
    return ops.stack([f if f.shape[0] == size else ops.pad(f, [(0, size - f.shape[0])], constant_values=math.nan)
                      for f in flats])


def flat_summaries(tensors: list, lo, hi, bins, saturating, width: int) -> dict:
    """Statistics and histograms of many tensors at once, each over all its finite values.

    All positions go into one NaN-padded matrix, so the compiled probe has one sort and one
    histogram however many positions it records. `lo`, `hi`, `bins` (per row) may change
    between calls without recompiling; `saturating` is a static list of (low, high) or None.
    Returns "stats" (rows x 7: mean std min max p15 p50 p85), "saturated" (rows), "hist"
    (rows x width+2: counts zero-padded to `width`, then below, above) and "abs_q995" (the
    99.5th percentile of |x|, which picks the histogram range, and widens it when the values grow)."""
    flats = [ops.reshape(ops.cast(t, "float32"), (-1,)) for t in tensors]
    full = _padded(flats, max(f.shape[0] for f in flats))
    finite = ops.isfinite(full)
    n = ops.sum(ops.cast(finite, "float32"), axis=1)
    mean = ops.sum(ops.where(finite, full, 0.0), axis=1) / n
    centred = ops.where(finite, full - mean[:, None], 0.0)
    std = ops.sqrt(ops.sum(ops.square(centred), axis=1) / n)
    low = ops.min(ops.where(finite, full, math.inf), axis=1)
    high = ops.max(ops.where(finite, full, -math.inf), axis=1)

    # Percentiles on a fixed sample of the biggest tensors (as numpy.percentile, linear).
    samples = []
    for f in flats:
        size = f.shape[0]
        if size > MAX_PERCENTILE_SAMPLES:
            keep = np.sort(np.random.default_rng(1).choice(size, MAX_PERCENTILE_SAMPLES, replace=False))
            f = ops.take(f, keep.astype("int32"), axis=0)
        samples.append(f)
    sample = _padded(samples, max(f.shape[0] for f in samples))
    sample_finite = ops.isfinite(sample)
    m = ops.sum(ops.cast(sample_finite, "int32"), axis=1)
    ordered = ops.sort(ops.where(sample_finite, sample, math.inf), axis=1)
    quantiles = [_interpolate(ordered, m, q) for q in (0.15, 0.5, 0.85)]
    # The 99.5th percentile of |x| from the top 0.5 % (a top-k is much cheaper than a second sort).
    k = min(math.ceil(0.005 * sample.shape[1]) + 2, sample.shape[1])
    top, _ = ops.top_k(ops.where(sample_finite, ops.abs(sample), -1.0), k)
    abs_q995 = _interpolate(ops.flip(top, axis=1), m, 0.995, offset=m - k)

    # Histograms: one segment sum over (row, bin) pairs; slot `width` of a row collects the rest.
    lo, hi = ops.cast(lo, "float32")[:, None], ops.cast(hi, "float32")[:, None]
    nb = ops.cast(bins, "float32")[:, None]
    scaled = ops.clip(ops.where(finite, (full - lo) * (nb / (hi - lo)), -1.0), -1.0, width + 1.0)
    index = ops.cast(ops.floor(scaled), "int32")
    last = ops.cast(nb, "int32") - 1
    index = ops.where(full == hi, last, index)
    inside = ops.logical_and(finite, ops.logical_and(full >= lo, full <= hi))
    index = ops.where(inside, ops.minimum(ops.maximum(index, 0), last), width)
    rows_n = len(flats)
    index = index + ops.arange(rows_n, dtype="int32")[:, None] * (width + 1)
    counts = ops.segment_sum(ops.reshape(ops.cast(finite, "float32"), (-1,)), ops.reshape(index, (-1,)),
                             num_segments=rows_n * (width + 1))
    counts = ops.reshape(counts, (rows_n, width + 1))[:, :width]
    below = ops.sum(ops.cast(ops.logical_and(finite, full < lo), "float32"), axis=1)
    above = ops.sum(ops.cast(ops.logical_and(finite, full > hi), "float32"), axis=1)

    sat_low = np.array([s[0] if s else -np.inf for s in saturating], "float32")[:, None]
    sat_high = np.array([s[1] if s else np.inf for s in saturating], "float32")[:, None]
    outside = ops.logical_and(finite, ops.logical_or(full <= sat_low, full >= sat_high))
    applies = np.array([s is not None for s in saturating])
    saturated = ops.where(applies, ops.sum(ops.cast(outside, "float32"), axis=1) / n, math.nan)
    return {"stats": ops.stack([mean, std, low, high, *quantiles], axis=1), "saturated": saturated,
            "hist": ops.concatenate([counts, below[:, None], above[:, None]], axis=1), "abs_q995": abs_q995}


def _interpolate(ordered, m, q: float, offset=None):
    """Per row, the q-quantile of the first m values of ascending `ordered` (linear interpolation).

    `offset`: index of ordered[:, 0] within the row's full ascending order (for a top-k slice)."""
    position = ops.cast(m - 1, "float32") * q
    start = ops.zeros_like(m) if offset is None else offset
    i0 = ops.cast(ops.floor(position), "int32")
    i1 = ops.minimum(i0 + 1, ops.maximum(m - 1, 0))
    size = ordered.shape[1]
    j0 = ops.minimum(ops.maximum(i0 - start, 0), size - 1)[:, None]
    j1 = ops.minimum(ops.maximum(i1 - start, 0), size - 1)[:, None]
    a = ops.take_along_axis(ordered, j0, axis=1)[:, 0]
    b = ops.take_along_axis(ordered, j1, axis=1)[:, 0]
    value = a + (b - a) * (position - ops.cast(i0, "float32"))
    return ops.where(m > 0, value, math.nan)


def histogram_range(abs_q995: float, minimum: float | None, kind: str, activation: str | None,
                    bins: int) -> tuple[float, float, int]:
    """Bins from a power-of-two ladder, so ranges of different runs, layers and epochs nest."""
    if kind == "output" or (kind == "activation" and activation == "sigmoid"):
        return 0.0, 1.0, bins // 2
    if kind == "activation" and activation == "tanh":
        return -1.0, 1.0, bins
    if minimum is None or not math.isfinite(abs_q995):
        return -1.0, 1.0, bins
    q = abs_q995 * 1.5
    exponent = min(max(math.ceil(math.log2(q)) if q > 0 else 0, -4), 20)
    top = float(2.0**exponent)
    if minimum >= 0:
        return 0.0, top, bins // 2
    return -top, top, bins


def host_summaries(tensors: list[np.ndarray], ranges: list[tuple[float, float, int]] | None, saturating: list,
                   width: int) -> dict:
    """flat_summaries in numpy, for tensors already on the host (a CPU backend's "device" is host memory,
    and numpy needs no compiling, which on a small model costs more than all its probes).

    Each distinct tensor is sorted once; percentiles, histogram counts and saturation are then
    read off the sorted values with binary searches (numpy.histogram's bins, last one closed)."""
    stats, saturated, hists, abs_q995 = [], [], [], []
    ordered_of: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for i, values in enumerate(tensors):
        if id(values) not in ordered_of:
            raw = np.asarray(values, dtype=np.float32).reshape(-1)
            finite = np.isfinite(raw)
            flat = raw if finite.all() else raw[finite]
            sample = raw
            if raw.size > MAX_PERCENTILE_SAMPLES:
                sample = raw[np.sort(np.random.default_rng(1).choice(raw.size, MAX_PERCENTILE_SAMPLES, replace=False))]
                sample = np.sort(sample[np.isfinite(sample)])
            ordered = np.sort(flat)
            ordered_of[id(values)] = (flat, ordered, ordered if sample is raw else sample)
        flat, ordered, sample = ordered_of[id(values)]
        n = ordered.size
        if n:
            p15, p50, p85 = _sorted_percentiles(sample, (15.0, 50.0, 85.0))
            stats.append([flat.mean(), flat.std(), ordered[0], ordered[-1], p15, p50, p85])
            abs_q995.append(np.percentile(np.abs(flat), 99.5))
        else:
            stats.append([math.nan, math.nan, math.inf, -math.inf, math.nan, math.nan, math.nan])
            abs_q995.append(math.nan)
        low_high = saturating[i]
        if low_high and n:
            outside = np.searchsorted(ordered, low_high[0], "right") + n - np.searchsorted(ordered, low_high[1], "left")
            saturated.append(outside / n)
        else:
            saturated.append(math.nan)
        lo, hi, bins = ranges[i] if ranges else (-1.0, 1.0, width)
        edges = np.linspace(lo, hi, bins + 1)
        cut = np.searchsorted(ordered, edges, "left")
        last = np.searchsorted(ordered, hi, "right")
        hist = np.zeros(width + 2)
        hist[:bins] = np.diff(np.append(cut[:-1], last))
        hist[width], hist[width + 1] = cut[0], n - last
        hists.append(hist)
    return {"stats": np.array(stats, dtype=np.float64), "saturated": np.array(saturated),
            "hist": np.array(hists), "abs_q995": np.array(abs_q995)}


def _sorted_percentiles(ordered: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """numpy.percentile (linear) of already sorted values."""
    result = []
    for q in qs:
        position = (ordered.size - 1) * q / 100.0
        i0 = math.floor(position)
        i1 = min(i0 + 1, ordered.size - 1)
        a, b = float(ordered[i0]), float(ordered[i1])
        result.append(a + (b - a) * (position - i0))
    return result


def host_unit_stats(values: np.ndarray, dead: bool) -> list[float]:
    """unit_stats in numpy."""
    u = np.asarray(values, dtype=np.float32)
    u = u.reshape(-1, 1) if u.ndim == 1 else u
    if not np.isfinite(u).all():
        u = np.where(np.isfinite(u), u, 0.0)
    return [np.abs(u.mean(axis=0)).mean(), u.std(axis=0).mean(), (u.max(axis=0) <= 0).mean() if dead else math.nan]
