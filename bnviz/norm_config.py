"""What normalizes a model and how: `NormConfig`, the `model.norm` section of an experiment config.

Split from bnviz.config (which re-exports it) so the config module stays small. Layer 2, like the
config: validated once, at the edge, so nothing invalid reaches Keras.

Kinds: "batch" (BatchNormalization), "layer" (LayerNormalization) and "group" (GroupNormalization,
Wu & He 2018: the units, or a conv layer's channels, are split into `groups` groups, each normalized
per example; `groups` must divide every normalized layer's width, see `group_count`). `noise` > 0
adds the "noisy BN" of Santurkar et al. 2018 after every normalization layer (bnviz.train.noise).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["NORMALIZATIONS", "NORM_NAMES", "PLACEMENTS", "NormConfig", "Normalization", "Placement",
           "divisors", "group_count"]

Placement = Literal["none", "before", "after"]
Normalization = Literal["batch", "layer", "group"]

PLACEMENTS: tuple[str, ...] = Placement.__args__
NORMALIZATIONS: tuple[str, ...] = Normalization.__args__
NORM_NAMES = {"batch": "BN", "layer": "LayerNorm", "group": "GroupNorm"}  # short names in labels


class NormConfig(BaseModel):
    """Where normalization goes and how it behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    placement: Placement = Field("none", description="BN on every block: none, before or after the activation")
    kind: Normalization = Field("batch", description="batch = BatchNormalization, layer = LayerNormalization, "
                                                     "group = GroupNormalization")
    momentum: float = Field(0.99, ge=0.0, le=1.0, description="weight of the old moving average")
    epsilon: float = Field(1e-3, gt=0.0, le=1.0, description="added to the variance before the square root")
    center: bool = Field(True, description="learn a shift beta")
    scale: bool = Field(True, description="learn a scale gamma")
    on_input: bool = Field(False, description="normalize the network input too")
    per_layer: dict[int, Placement] = Field(
        default_factory=dict, description="override the placement of block N (1-based)"
    )
    # 2 divides every even width (the circles tutorial's 50 units too); Wu & He use 32 on conv nets of 64+ channels
    groups: int = Field(2, ge=1, le=4096, description="GroupNorm: groups per layer; must divide its units/channels")
    noise: float = Field(0.0, ge=0.0, le=10.0, description="noisy BN (Santurkar et al.): per-unit shift "
                                                           "U(-noise, noise) and scale U(1, 1 + noise), redrawn "
                                                           "every training step, after each norm layer; 0 = off")

    @field_validator("per_layer")
    @classmethod
    def _blocks_are_positive(cls, value: dict[int, str]) -> dict[int, str]:
        bad = [k for k in value if k < 1 or k > 64]
        if bad:
            raise ValueError(f"block numbers must be between 1 and 64, got {bad[0]}")
        return dict(sorted(value.items()))

    def placement_for(self, block: int) -> str:
        return self.per_layer.get(block, self.placement)

    @property
    def enabled(self) -> bool:
        return self.on_input or self.placement != "none" or any(p != "none" for p in self.per_layer.values())


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def group_count(norm: NormConfig, width: int, where: str) -> int:
    """GroupNorm's groups for a layer of `width` units (channels): `norm.groups`, which must divide it.
    Raises ValueError naming the layer (`where`) and the groups that would fit."""
    if width % norm.groups:
        fits = divisors(width)
        shown = ", ".join(map(str, fits if len(fits) <= 12 else [*fits[:11], "…"]))
        raise ValueError(f"norm.groups: {norm.groups} groups do not divide the {width} units of {where}; "
                         f"GroupNorm needs a number of groups that divides every normalized layer's width "
                         f"(for {width}: {shown})")
    return norm.groups
