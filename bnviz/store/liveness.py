"""Which processes are alive, proven by lock files the OS releases when a process dies.

Each process that trains a run (a worker, `python -m bnviz train`) holds an exclusive lock
on `locks/<token>.lock` for its lifetime and stamps its runs with that token. The OS drops
the lock when the process dies, even on `kill -9` or out-of-memory, so anyone can tell a
run of a live process from an orphan without trusting pids (which are reused).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import threading
import time
from pathlib import Path

_TOKEN = secrets.token_hex(8)
TOKEN_RE = re.compile(r"[0-9a-f]{16}")
_held_locks: dict[str, int] = {}
_guard = threading.Lock()

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: liveness cannot be proven, so nothing is reclaimed
    fcntl = None  # type: ignore[assignment]


def _after_fork_in_child() -> None:
    global _TOKEN
    _TOKEN = secrets.token_hex(8)
    for fd in _held_locks.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def hold(locks_dir: Path) -> str:
    """Lock `locks/<token>.lock` for the rest of this process's life (before stamping any run)."""
    if fcntl is None:
        return _TOKEN
    path = str(locks_dir / f"{_TOKEN}.lock")
    with _guard:
        if path in _held_locks:
            return _TOKEN
        locks_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while another process briefly tests it
            try:  # that process may have judged the fresh file dead and removed it: then retry
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.write(fd, str(os.getpid()).encode())
        _held_locks[path] = fd
    return _TOKEN


@atexit.register
def release() -> None:
    """A clean exit removes our lock files; runs still marked running are then recovered."""
    for path, fd in list(_held_locks.items()):
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.close(fd)
    _held_locks.clear()


def alive(locks_dir: Path, owner: str | None) -> bool:
    """True while the process that stamped `owner` lives (its lock cannot be taken)."""
    if owner == _TOKEN or fcntl is None:
        return True
    if not owner or not TOKEN_RE.fullmatch(owner):
        return False
    path = locks_dir / f"{owner}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock if we got it
    return False


def sweep(locks_dir: Path) -> None:
    """Remove lock files of processes that are gone (after their runs were marked)."""
    for path in locks_dir.glob("*.lock"):
        owner = path.name[: -len(".lock")]
        if TOKEN_RE.fullmatch(owner) and not alive(locks_dir, owner):
            with contextlib.suppress(OSError):
                path.unlink()


def is_mine(owner: str | None) -> bool:
    """True for the token of this very process."""
    return owner == _TOKEN


def dead(locks_dir: Path, owner: str | None) -> bool:
    """True only when `owner` provably died on this machine: its lock file is here and nobody holds it.

    With a database shared by several machines, a missing lock file proves nothing (the process
    may live elsewhere), so the store judges those by their heartbeats instead."""
    if owner == _TOKEN or fcntl is None or not owner or not TOKEN_RE.fullmatch(owner):
        return False
    return (locks_dir / f"{owner}.lock").is_file() and not alive(locks_dir, owner)


def orphaned_by_heartbeat(locks_dir: Path, token: str | None, worker: str | None, updated: float,
                          worker_row: str | None, heartbeat: float | None, worker_token: str | None, *,
                          timeout: float, now: float | None = None) -> bool:
    """Whether a running run of a store shared by several machines has lost its process.

    A worker's run: when the worker's row is gone, its heartbeat is older than `timeout`, or it
    provably died on this machine. A run trained without a worker (`python -m bnviz train`):
    its own events are its heartbeat (`updated`)."""
    now = time.time() if now is None else now
    if worker is None:
        return dead(locks_dir, token) or (not is_mine(token) and now - updated > timeout)
    return worker_row is None or heartbeat is None or now - heartbeat > timeout or dead(locks_dir, worker_token)
