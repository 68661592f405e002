"""Jobs: runs submitted, queued, claimed, trained by workers and recorded into the store.

Owns: the job API pages and the CLI call (`api.JobManager`), the queue with its claim,
cancel flags and heartbeats (`queue`), the order owners are served in (`fairness`), the
worker process (`worker`), the local supervisor of worker processes (`supervisor`), the Ray
executor (`ray_executor`) and training recorded into the store (`recorded`). May import:
the vocabulary, `bnviz.data`, `bnviz.train` and `bnviz.store`; never figures, the gallery
or the report.

`JobManager` (bnviz/jobs/api.py) is re-exported here.
"""

from bnviz.jobs.api import JobManager, SubmitResult

__all__ = ["JobManager", "SubmitResult"]
