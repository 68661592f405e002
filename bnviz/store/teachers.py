"""Teacher sessions: unlocking a browser with the admin key, throttled, and ending it.

An unlock that knows the key gets a session of its own: a random token the browser keeps (in
a cookie) and the store keeps only as a hash, with the key's fingerprint and an expiry
(BNVIZ_TEACHER_SESSION_HOURS). Lock deletes the row; a new BNVIZ_ADMIN_KEY matches no stored
fingerprint, so it ends every session; copying one browser's cookie gives at most what is left
of that one session. Nothing derived from the key ever reaches a browser.

Guesses are throttled per browser and server-wide with a growing delay (bnviz.access.Backoff),
in the store so that every web server of a deployment counts the same attempts and a restart
forgives nothing. An attempt is counted before the key is checked, in the transaction that
decides whether it may be made, so a burst of simultaneous guesses cannot slip past the count;
a refused attempt says how long to wait, and nobody's request ever sleeps.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnviz import access
from bnviz.settings import settings
from bnviz.store.db import LOCK_UNLOCKS

if TYPE_CHECKING:
    from bnviz.store.db import Transaction
    from bnviz.store.run_store import RunStore

SERVER_SCOPE = "server"


def clock() -> float:
    """The time the throttle and expiry read (tests replace it: no test waits for a delay)."""
    return time.time()


@dataclass(frozen=True)
class Unlock:
    """What an unlock attempt got: a session token, or why not and how long to wait."""

    token: str | None = None
    expires: float | None = None
    checked: bool = False  # False: refused before the key was looked at (too many attempts, no key set)
    wait_s: float = 0.0  # before the next attempt may be made


class TeacherSessions:
    """Teacher sessions and unlock attempts in one store (any process, any thread)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def unlock(self, entered: str | None, browser: str) -> Unlock:
        """Check `entered` against the admin key for `browser` (its owner label), unless it must wait."""
        fingerprint = access.key_fingerprint()
        if fingerprint is None:
            return Unlock()
        now, scopes = clock(), self._scopes(browser)
        with self.store.write_transaction() as con:
            con.advisory_lock(LOCK_UNLOCKS)  # PostgreSQL: attempts at once are counted one by one
            wait = self._wait(con, scopes, now)
            if wait > 0:
                return Unlock(wait_s=wait)
            for scope in scopes:  # counted as failed until the key proves right
                con.execute("INSERT INTO unlock_attempts (scope, failures, last) VALUES (?, 1, ?) ON CONFLICT (scope)"
                            " DO UPDATE SET failures=CASE WHEN ? - unlock_attempts.last >= ? THEN 1"
                            " ELSE unlock_attempts.failures + 1 END, last=excluded.last",
                            (scope, now, now, self._backoff(scope).quiet_s))
        if not access.check_admin_key(entered):
            with self.store.read_transaction() as con:
                return Unlock(checked=True, wait_s=self._wait(con, scopes, now))
        token = access.new_session_token()
        expires = now + settings().teacher_session_hours * 3600
        with self.store.write_transaction() as con:
            con.execute("DELETE FROM unlock_attempts WHERE scope=?", (scopes[0],))  # this browser: forgiven
            con.execute("UPDATE unlock_attempts SET failures=failures-1 WHERE scope=? AND failures>0",
                        (SERVER_SCOPE,))  # the server: only this attempt (someone may be guessing)
            con.execute("DELETE FROM teacher_sessions WHERE expires < ?", (now,))
            con.execute("INSERT INTO teacher_sessions (token_hash, key_check, browser, created, expires)"
                        " VALUES (?,?,?,?,?)", (access.token_hash(token), fingerprint, browser, now, expires))
        return Unlock(token=token, expires=expires, checked=True)

    def active(self, token: str | None) -> float | None:
        """When the session of `token` ends, or None when it is not a live session for today's key."""
        fingerprint = access.key_fingerprint()
        if fingerprint is None or not token or len(token) > 200:
            return None
        with self.store.read_transaction() as con:
            row = con.execute("SELECT key_check, expires FROM teacher_sessions WHERE token_hash=?",
                              (access.token_hash(token),)).fetchone()
        if row is None or row[1] <= clock() or not hmac.compare_digest(row[0], fingerprint):
            return None
        return float(row[1])

    def lock(self, token: str | None) -> bool:
        """End the session of `token` (the Lock button); True if there was one."""
        if not token:
            return False
        with self.store.write_transaction() as con:
            return bool(con.execute("DELETE FROM teacher_sessions WHERE token_hash=?",
                                    (access.token_hash(token),)).rowcount)

    def wait(self, browser: str) -> float:
        """Seconds before `browser` may try the key again (0: now)."""
        with self.store.read_transaction() as con:
            return self._wait(con, self._scopes(browser), clock())

    @staticmethod
    def _scopes(browser: str) -> tuple[str, str]:
        return f"browser:{browser}", SERVER_SCOPE

    @staticmethod
    def _backoff(scope: str) -> access.Backoff:
        return access.SERVER_BACKOFF if scope == SERVER_SCOPE else access.BROWSER_BACKOFF

    def _wait(self, con: Transaction, scopes: tuple[str, ...], now: float) -> float:
        waits = [0.0]
        for scope in scopes:
            row = con.execute("SELECT failures, last FROM unlock_attempts WHERE scope=?", (scope,)).fetchone()
            if row is not None:
                waits.append(self._backoff(scope).wait(row[0], row[1], now))
        return max(waits)
