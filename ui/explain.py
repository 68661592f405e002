"""Short "about BN" notes shown next to the charts: what you are looking at, and why it matters."""

from __future__ import annotations

import streamlit as st

NOTES = {
    "histograms": (
        "**Before / after BN.** Blue is what enters the BN layer, orange what leaves it. In training, BN "
        "subtracts the batch mean and divides by the batch standard deviation of every unit, then applies a "
        "learned scale γ and shift β. So orange starts at mean 0, std 1 whatever blue looks like.\n\n"
        "**Before vs after the activation.** *Before*: the activation receives a unit Gaussian, the setup "
        "of the original paper. *After*: the next layer receives normalized inputs, and ReLU's zeros "
        "are normalized too."
    ),
    "animation": (
        "**Over training.** Press ▶ to watch each distribution move from epoch to epoch. Without BN, "
        "deeper layers' inputs drift as earlier layers learn (Ioffe and Szegedy call this *internal covariate "
        "shift*). With BN the normalized distribution stays put."
    ),
    "percentiles": (
        "**Ioffe and Szegedy's Figure 1.** The 15th, 50th and 85th percentiles of a layer's inputs over "
        "training. Without BN they wander and the sigmoid's inputs slide into its flat tails; with BN they "
        "stay stable."
    ),
    "gradients": (
        "**Gradient norms per layer** on the probe batch (log scale). Saturated sigmoids and badly scaled "
        "weights shrink the gradients of early layers (vanishing gradients). BN keeps them in a healthy range."
    ),
    "bn_params": (
        "**γ and β** are learned, so the network can undo the normalization if that helps. The **moving "
        "mean and variance** are running averages of batch statistics (momentum sets how slowly they follow) "
        "and are what BN uses at inference."
    ),
    "modes": (
        "**Batch vs moving statistics.** Training uses each batch's own statistics; evaluation uses the "
        "moving averages. Early on, or with high momentum, the two disagree, which is why a tutorial's "
        "training accuracy can sit below its test accuracy."
    ),
    "saturation": (
        "**Saturated units** (sigmoid/tanh outputs within 1% of their limits) pass almost no gradient. "
        "**Dead ReLUs** output zero for every example in the probe batch. BN keeps pre-activations centred, "
        "so fewer units end up there."
    ),
}


def explain(view: str) -> None:
    if view in NOTES:
        st.markdown(NOTES[view])
