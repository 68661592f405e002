"""Short "about BN" notes shown next to the charts: what you are looking at, and why it matters.

Colours follow bnviz.figures.PALETTE everywhere: before BN blue, after BN orange, moving
statistics green; training curves dark grey, validation teal; compared runs take their own colours.
"""

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
        "mean and variance** are running averages of batch statistics (BN momentum sets how slowly they "
        "follow) and are what BN uses at inference."
    ),
    "modes": (
        "**Batch vs moving statistics.** Training uses each batch's own statistics; evaluation uses the "
        "moving averages. Early on, or with high BN momentum, the two disagree, which is why a tutorial's "
        "validation accuracy can sit below its training accuracy for the first epochs."
    ),
    "saturation": (
        "**Saturated units** (sigmoid/tanh outputs within 1% of their limits) pass almost no gradient. "
        "**Dead ReLUs** output zero for every example in the probe batch. BN keeps pre-activations centred, "
        "so fewer units end up there."
    ),
}

# The same views for a run without BN: nothing here mentions a BN layer it does not have.
NOTES_NO_BN = {
    **NOTES,
    "histograms": (
        "**Inside a block without BN.** The distributions of a layer's linear output (pre-activation) and "
        "of its activation, as this network computes them: nothing rescales them, so as earlier layers "
        "learn they shift and widen. Train the same model with BN to see them held in place."
    ),
    "animation": (
        "**Over training.** Press ▶ to watch each distribution move from epoch to epoch. Without BN, "
        "deeper layers' inputs drift as earlier layers learn (Ioffe and Szegedy call this *internal covariate "
        "shift*)."
    ),
    "bn_params": "**This run has no BN layer**, so it has no γ, β or moving statistics to show.",
    "modes": ("**This run has no BN layer**: training and evaluation compute the same thing, so there is no "
              "batch-vs-moving-statistics gap to show."),
}


def explain(view: str, has_bn: bool = True) -> None:
    notes = NOTES if has_bn else NOTES_NO_BN
    if view in notes:
        st.markdown(notes[view])
