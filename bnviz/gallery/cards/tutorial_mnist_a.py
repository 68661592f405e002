"""Card: MNIST CNN with and without BN, tutorial A (Adam, batch 250)."""

from __future__ import annotations

from bnviz.gallery.cards.tutorial import tutorial_card
from bnviz.presets import PRESETS

MNIST_A = tutorial_card(
    slug="tutorial-mnist-a",
    title="MNIST CNN with and without BN (tutorial A)",
    question="Does BN after every conv, pool and dense layer improve a small MNIST CNN?",
    claim="BN raises test accuracy from 0.97 to 0.992.",
    source=f"{PRESETS['seed000-mnist-none'].source} (preset seed000)",
    arms=[("no BN", "mnist", "seed000-mnist-none"), ("BN", "mnist", "seed000-mnist-bn")],
    pairs=[("no BN", "BN")],
    setup="MNIST, Conv 32-64 + Dense 256, Adam 1e-3, batch 250, 25 epochs, 20% validation split",
)
