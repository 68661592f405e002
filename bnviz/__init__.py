"""bnviz: see what batch normalization does to a network while it trains.

The engine: experiment configs, datasets, block-by-block Keras models, instrumented
training and run records. It never imports Streamlit; the dashboard is built on top.

    from bnviz import ExperimentConfig, get_preset, train
    record = train(get_preset("seed001-circles-after-fast").config)
"""

from bnviz.config import ConfigError, ExperimentConfig
from bnviz.presets import PRESETS, get_preset


def train(config, **kwargs):
    """Train `config` and return its run record (see bnviz.train.training.train)."""
    from bnviz.train.training import train as _train

    return _train(config, **kwargs)


__all__ = ["PRESETS", "ConfigError", "ExperimentConfig", "get_preset", "train"]
__version__ = "0.1.0"
