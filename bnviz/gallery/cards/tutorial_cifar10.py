"""Card: CIFAR-10 CNN with sigmoid and ReLU, with and without BN."""

from __future__ import annotations

from bnviz.gallery.cards.tutorial import tutorial_card
from bnviz.presets import PRESETS

CIFAR = tutorial_card(
    slug="tutorial-cifar10",
    title="CIFAR-10 CNN: sigmoid and ReLU, with and without BN",
    question="How much does BN help a CIFAR-10 CNN with sigmoid activations, compared with ReLU?",
    claim="With BN both CNNs reach a higher test accuracy in the same 10 epochs; the sigmoid network, which "
          "hardly learns without BN, gains the most.",
    source=f"{PRESETS['seed003-cifar10-sigmoid'].source} (preset seed003; no published numbers in the preset)",
    arms=[("sigmoid, no BN", "sigmoid", "seed003-cifar10-sigmoid"),
          ("sigmoid, BN", "sigmoid", "seed003-cifar10-sigmoid-bn"),
          ("ReLU, no BN", "relu", "seed003-cifar10-relu"), ("ReLU, BN", "relu", "seed003-cifar10-relu-bn")],
    pairs=[("sigmoid, no BN", "sigmoid, BN"), ("ReLU, no BN", "ReLU, BN")],
    setup="CIFAR-10, Conv 32-32-64-64 + Dense 128, augmentation, RMSprop 1e-3, batch 32, 10 epochs",
)
