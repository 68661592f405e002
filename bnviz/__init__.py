"""bnviz: see what batch normalization does to a network while it trains.

The engine: experiment configs, datasets, block-by-block Keras models, instrumented
training and run records. It never imports Streamlit; the dashboard is built on top.

    from bnviz import ExperimentConfig, get_preset, train
    record = train(get_preset("seed001-circles-after-fast").config)

Your own Keras model, watched live on the dashboard:

    model.fit(x, y, epochs=10, callbacks=[bnviz.watch(name="my-cnn", probe=(x[:256], y[:256]))])
"""

from bnviz.config import ConfigError, ExperimentConfig
from bnviz.presets import PRESETS, get_preset


def train(config, **kwargs):
    """Train `config` and return its run record (see bnviz.train.training.train)."""
    from bnviz.train.training import train as _train

    return _train(config, **kwargs)


def watch(name=None, probe=None, **options):
    """A Keras callback that records your own model's fit() into the dashboard, live (see
    bnviz.watcher.callback.watch); Keras is imported only when you call it."""
    from bnviz.watcher.callback import watch as _watch

    return _watch(name, probe, **options)


__all__ = ["PRESETS", "ConfigError", "ExperimentConfig", "get_preset", "train", "watch"]
__version__ = "0.1.0"
