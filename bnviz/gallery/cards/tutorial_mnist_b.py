"""Card: MNIST CNN on 8,000 raw-pixel digits with and without BN, tutorial B (RMSprop)."""

from __future__ import annotations

from bnviz.gallery.cards.tutorial import tutorial_card
from bnviz.presets import PRESETS

MNIST_B = tutorial_card(
    slug="tutorial-mnist-b",
    title="MNIST CNN on 8,000 raw digits with and without BN (tutorial B)",
    question="Does BN help a CNN trained on raw (unscaled) pixels with RMSprop?",
    claim="BN raises test accuracy from 0.91 to 0.975.",
    source=f"{PRESETS['seed002-mnist-none'].source} (preset seed002)",
    arms=[("no BN", "mnist", "seed002-mnist-none"), ("BN", "mnist", "seed002-mnist-bn")],
    pairs=[("no BN", "BN")],
    setup="MNIST 8,000 raw-pixel digits, Conv 32-64 + Dense 128, dropout, RMSprop 1e-3, batch 16, 30 epochs",
)
