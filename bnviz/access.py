"""Who may change a run: the one rule every page (and later the job API) applies.

A run's `owner` is the label of whoever started it: a signed-in user ("user:<email>") or a
browser ("web-<hash of that browser's secret>"). Only that owner may cancel, rename or
delete the run; an admin (a teacher holding BNVIZ_ADMIN_KEY) may change every run.
Everyone else sees runs read-only. No Streamlit here: the pages decide who is asking.
"""

from __future__ import annotations

import hashlib
import hmac

from bnviz.settings import settings, variable

ADMIN_KEY_ENV = variable("admin_key")
_ADMIN_TOKEN_CONTEXT = b"bnviz admin token v1"


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


def admin_token() -> str | None:
    """What a browser keeps (in a cookie) once its admin key was accepted: derived from the key,
    so the key itself is never stored in the browser, and changing the key revokes old tokens."""
    key = admin_key()
    if key is None:
        return None
    return hmac.new(key.encode(), _ADMIN_TOKEN_CONTEXT, hashlib.sha256).hexdigest()


def check_admin_token(token: str | None) -> bool:
    expected = admin_token()
    if expected is None or not token:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())
