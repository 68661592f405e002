"""Training: Keras models built block by block, the backends, probes, the callback, `train`.

Owns: everything that imports Keras or a backend (TensorFlow, JAX, PyTorch), and the
numbers a probe takes from a model without changing it. May import: the shared vocabulary
(config, presets, events, record, states, errors, settings) and `bnviz.data`; never the store,
the job system or the figures, so a training process needs no database.

Importing this package imports no framework: modules that need Keras import it themselves,
after `bnviz.train.backends.select` has chosen the process's backend.
"""
