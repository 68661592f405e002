"""The tutorial cards' shape: arms from presets, published numbers, BN vs no-BN pairs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bnviz.figures.gallery import curves, published_vs_ours
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import fast_note, preset_config, published_accuracy
from bnviz.gallery.metrics import Record, arm_mean, warmup_note
from bnviz.gallery.model import Arm, Experiment, FigureList, Judge, Verdict


def tutorial_card(*, slug: str, title: str, question: str, claim: str, source: str,
                  arms: Sequence[tuple[str, str, str]], pairs: Sequence[tuple[str, str]], setup: str,
                  report_full: bool = False, judge: Judge | None = None,
                  claims: Sequence[Claim] | None = None) -> Experiment:
    """A card over presets; arms = (label, group, preset name); pairs = (no-BN, BN) labels to compare.
    Without `claims`, each pair is the claim "BN reaches a higher final test accuracy than no BN".
    `setup` says what the full-size presets do; what the fast variant changes is appended from the
    presets' change table, so the card can never state other sizes than the ones it runs."""
    setup = f"{setup} ({fast_note(arms[0][2])})"

    def build(fast: bool) -> list[Arm]:
        return [Arm(label, preset_config(name, fast), group=group, published=published_accuracy(name))
                for label, group, name in arms]

    def default_judge(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
        return _judge_pairs(exp, lists, pairs)

    def draw(exp: Experiment, lists: dict[str, list[Record]]) -> FigureList:
        rows = exp.summarize(lists)
        return [
            (f"{title}: test accuracy, ours vs published", published_vs_ours(rows, f"{title}: final test accuracy")),
            (f"{title}: validation accuracy during training",
             curves(lists, "val_accuracy", f"{title}: validation accuracy per epoch")),
        ]

    if claims is None:
        claims = [Claim(f"{bn} reaches a higher final test accuracy than {plain}", better=bn, worse=plain)
                  for plain, bn in pairs]
    return Experiment(slug=slug, title=title, question=question, claim=claim, source=source, build=build,
                      judge=judge or default_judge, draw=draw, report_full=report_full, setup=setup,
                      claims=tuple(claims))


def _judge_pairs(exp: Experiment, lists: Mapping[str, list[Record]], pairs: Sequence[tuple[str, str]]) -> Verdict:
    """The pairs' numbers; inconclusive (None) when a BN arm that loses has not warmed its moving
    averages up (too few steps in a fast variant). Whether the claim held is the claims' rule."""
    parts, results, cold = [], [], []
    for plain, bn in pairs:
        a, b = arm_mean(lists.get(plain, [])), arm_mean(lists.get(bn, []))
        if a is None or b is None:
            continue
        results.append(b > a)
        parts.append(f"{bn} {b:.3f} vs {plain} {a:.3f}")
        if b <= a and warmup_note(lists.get(bn, [])):
            cold.append(bn)
    if not results:
        return None, "Not judged: no pair of arms (with and without BN) finished."
    detail = "; ".join(parts)
    if all(results):
        return True, f"Test accuracy (mean over seeds): {detail}."
    if cold:
        return None, (f"Inconclusive: {detail}, but the BN arm's moving averages had too few steps to warm up "
                      "(see the train-vs-inference card); run the full-size variant.")
    return False, f"Test accuracy (mean over seeds): {detail}."
