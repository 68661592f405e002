"""Card: the circles tutorial, BN before or after the ReLU against the published numbers."""

from __future__ import annotations

from bnviz.gallery.cards.tutorial import tutorial_card
from bnviz.gallery.claims import Claim
from bnviz.gallery.configs import published_accuracy
from bnviz.gallery.metrics import TOLERANCE, Record, epochs_to, mean_over_seeds
from bnviz.gallery.model import Experiment, Verdict


def _judge_circles(exp: Experiment, lists: dict[str, list[Record]]) -> Verdict:
    rows = [r for r in exp.summarize(lists) if r.ours is not None and r.published is not None]
    if not rows:
        return None, "Not judged: no arm finished."
    close = [abs(r.ours - r.published) <= TOLERANCE for r in rows]
    numbers = "; ".join(f"{r.arm} {r.ours:.3f} (published {r.published:.3f})" for r in rows)
    speed = []
    for label, records in lists.items():
        reached = mean_over_seeds(records, lambda r: epochs_to(r, 0.8))
        speed.append(f"{label} {reached:.0f}" if reached is not None else f"{label} never")
    speed_text = f" Epochs to reach 80% test accuracy: {', '.join(speed)}." if speed else ""
    if all(close):
        return True, f"Ours vs the tutorial (mean over seeds): {numbers}.{speed_text}"
    shortened = any(exp._shortened(r.arm, lists.get(r.arm, []), None) for r in rows)
    if shortened:
        return None, (f"Inconclusive in the fast variant (fewer epochs than the tutorial): {numbers}."
                      f"{speed_text}")
    return False, f"Ours vs the tutorial (mean over seeds): {numbers}.{speed_text}"


_ARMS = [("no BN", "circles", "seed001-circles-none"), ("BN after ReLU", "circles", "seed001-circles-after"),
         ("BN before ReLU", "circles", "seed001-circles-before")]

CIRCLES = tutorial_card(
    slug="tutorial-circles",
    title="Circles MLP: BN before or after the activation",
    question="Does BN help a one-hidden-layer MLP on the two-circles problem, and does it matter whether it goes "
             "before or after the ReLU?",
    claim="Test accuracy after 100 epochs is 0.846 without BN, 0.848 with BN after the ReLU and 0.830 with BN "
          "before it: on this small problem BN mostly changes how fast the network learns, not where it ends.",
    source="circles tutorial (Brownlee, “How to Accelerate Learning of Deep Neural Networks With Batch Normalization”)",
    arms=_ARMS,
    pairs=[("no BN", "BN after ReLU")],
    setup="2-D circles (500 train / 500 test, noise 0.1), Dense(50, ReLU) → sigmoid, SGD+momentum 0.9, lr 0.01, "
          "batch 32, 100 epochs",
    report_full=True,
    judge=_judge_circles,
    claims=[Claim(f"{label} ends within {TOLERANCE:g} of the tutorial's {published_accuracy(name):.3f}", better=label,
                  target=published_accuracy(name), threshold=TOLERANCE, kind="near") for label, _, name in _ARMS],
)
