"""The run store: every run, durably, in SQLite or PostgreSQL, and every read of it.

Owns: the database (`db`), its tables and migrations (`schema`), the write path (`writes`),
reads and exports (`reads`), crash recovery (`recovery`), files kept with runs (`files`),
compact probe storage (`probe_codec`), snapshots for live readers (`snapshots`), process
liveness through lock files (`liveness`) and teacher sessions with their throttled unlock
(`teachers`). May import: the shared vocabulary (config, events, record, states, ids, errors,
settings, access) and what may be said of a data file (`bnviz.data.offered`); never training,
the job system or the figures.

`RunStore` (bnviz/store/run_store.py) is the one class callers use; it is re-exported here.
"""

from bnviz.store.run_store import (
    INTERRUPTED,
    MAX_NAME,
    MAX_NOTES,
    MAX_OWNER,
    NO_LIMIT,
    Cursor,
    RunNotFound,
    RunStore,
    backend_of,
    iso,
    record_from,
    shared_record,
)

__all__ = ["INTERRUPTED", "MAX_NAME", "MAX_NOTES", "MAX_OWNER", "NO_LIMIT", "Cursor", "RunNotFound", "RunStore",
           "backend_of", "iso", "record_from", "shared_record"]
