"""Watching a user's own Keras training: `bnviz.watch(...)`, a callback for any fit().

Owns reading any Sequential or functional model's graph (`graph`), what a script's run stores as its
config and summary (`describe`), writing its events to the run store off the training thread
(`writer`), and the callback itself (`callback`). It imports the training layer (the Prober, the
instrumentation callback) and the run store; nothing below imports it. Import `bnviz.watch` (the
façade) rather than this package: importing it imports Keras.
"""
