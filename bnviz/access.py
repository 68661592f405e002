"""Who may change a run: the one rule every page (and later the job API) applies.

A run's `owner` is the label of whoever started it: a signed-in user ("user:<email>") or a
browser ("web-<hash of that browser's secret>"). Only that owner may cancel, rename or
delete the run; an admin (a teacher holding BNVIZ_ADMIN_KEY) may change every run.
Everyone else sees runs read-only. No Streamlit here: the pages decide who is asking.

A teacher's unlock is a session kept in the store (bnviz/store/teachers.py): the browser holds
a random token, never anything derived from the key. What the key check needs is here: the
key's fingerprint (bound to every session, so a new key ends them all), the session token and
its hash, and the growing delay that throttles guesses (`Backoff`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bnviz.settings import settings, variable

ADMIN_KEY_ENV = variable("admin_key")
_FINGERPRINT_SALT = b"bnviz teacher sessions v1"
_FINGERPRINT_ROUNDS = 200_000  # a stolen session table costs a guesser this much per guessed key


@dataclass(frozen=True)
class Backoff:
    """A delay that grows with failed unlocks: `free` failures cost nothing, then the wait starts at
    `base_s` and doubles with each failure up to `cap_s`; `quiet_s` without one forgets them all."""

    free: int
    base_s: float
    cap_s: float
    quiet_s: float

    def wait(self, failures: int, last: float, now: float) -> float:
        """Seconds until another attempt is allowed (0: now), after `failures` failures, the last at `last`."""
        if failures < self.free or now - last >= self.quiet_s:
            return 0.0
        delay = min(self.base_s * 2.0 ** min(failures - self.free, 40), self.cap_s)
        return max(0.0, last + delay - now)


# One browser: a typo or two is free, a guesser soon waits minutes. The whole server: a guesser who
# throws cookies away still gets one try a minute, while a teacher never waits more than that.
BROWSER_BACKOFF = Backoff(free=3, base_s=2.0, cap_s=600.0, quiet_s=3600.0)
SERVER_BACKOFF = Backoff(free=10, base_s=1.0, cap_s=60.0, quiet_s=3600.0)


def can_change(run_owner: str | None, actor: str | None, is_admin: bool = False) -> bool:
    """True if `actor` may cancel, rename or delete a run started by `run_owner`."""
    if is_admin:
        return True
    if not actor or not run_owner:
        return False  # nobody owns an ownerless run (CLI, gallery): only an admin may change it
    return hmac.compare_digest(str(run_owner).encode(), str(actor).encode())


def browser_owner(secret: str) -> str:
    """The owner label of a browser holding `secret` (its cookie). A hash, so the label shown in
    run records and exports cannot be replayed as a cookie to impersonate that browser."""
    return "web-" + hashlib.sha256(f"bnviz-owner:{secret}".encode()).hexdigest()[:16]


def user_owner(email_or_subject: str) -> str:
    """The owner label of a user signed in with st.login."""
    return f"user:{email_or_subject.strip().lower()}"


def admin_key() -> str | None:
    """The configured teacher/admin key, or None when no one is an admin."""
    return settings().admin_key


def check_admin_key(entered: str | None) -> bool:
    """Whether `entered` is the admin key (constant-time comparison)."""
    key = admin_key()
    if key is None or not entered:
        return False
    return hmac.compare_digest(entered.encode(), key.encode())


def key_fingerprint() -> str | None:
    """A slow hash of the admin key, stored with each teacher session: a changed key matches no
    session (every teacher is locked out), and the stored value is costly to guess the key from."""
    key = admin_key()
    return None if key is None else _fingerprint(key)


@functools.lru_cache(maxsize=4)
def _fingerprint(key: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", key.encode(), _FINGERPRINT_SALT, _FINGERPRINT_ROUNDS).hex()


def new_session_token() -> str:
    """A teacher session's token: random, cookie-safe, unrelated to the key."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a session token (a leaked table holds no usable token)."""
    return hashlib.sha256(f"bnviz-teacher:{token}".encode()).hexdigest()
