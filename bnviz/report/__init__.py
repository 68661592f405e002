"""What bnviz writes about runs: the reproduction report, TensorBoard export, readings.

Owns: running the gallery headless as a Markdown report (`reproduce`, `plan`, `arms`, `markdown`,
`figure_export`) with its verdicts as data (`results`, read by the Learn page), a run as TensorBoard
event files (`tensorboard`) and the sentences that stop a class misreading a run (`readings`). May
import everything below it: the vocabulary, data, train, store, jobs, figures and the gallery.
"""
