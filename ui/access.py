"""Who is asking, for the pages: the signed-in user, else this browser; and whether it is an admin.

A browser is recognised by a random secret in a cookie (`bnviz_owner`), read with
`st.context.cookies` and written by a line of JavaScript in the page (`st.html`), so ownership
survives a reload in the same browser while session state does not. The admin unlock works
the same way: the browser keeps a token derived from BNVIZ_ADMIN_KEY, never the key.
The rules themselves are in bnviz.access.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import streamlit as st

from bnviz import access

OWNER_COOKIE = "bnviz_owner"
ADMIN_COOKIE = "bnviz_admin"
_YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True)
class Actor:
    owner: str  # the label runs started here are stored under
    is_admin: bool
    signed_in: bool

    def can_change(self, run_owner: str | None) -> bool:
        return access.can_change(run_owner, self.owner, self.is_admin)

    def owns(self, run_owner: str | None) -> bool:
        return access.can_change(run_owner, self.owner)


def _cookie(name: str) -> str | None:
    try:
        value = st.context.cookies.get(name)
    except Exception:  # no request context (bare mode): no cookies
        return None
    return value if isinstance(value, str) and value else None


def _set_cookie(name: str, value: str, max_age: int = _YEAR_S) -> None:
    """Write a cookie for this app from the page (read back on the next page load)."""
    cookie = f"{name}={value}; path=/; max-age={max_age}; SameSite=Strict"
    st.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", unsafe_allow_javascript=True)


def _signed_in_user() -> str | None:
    try:
        if st.user.get("is_logged_in") is True:
            who = st.user.get("email") or st.user.get("sub")
            return str(who) if who else None
    except Exception:  # st.login is not configured
        return None
    return None


def _browser_secret() -> str:
    secret = _cookie(OWNER_COOKIE)
    if secret is not None and 16 <= len(secret) <= 128 and secret.isalnum():
        st.session_state["_owner_secret"] = secret
        return secret
    if "_owner_secret" not in st.session_state:
        st.session_state["_owner_secret"] = secrets.token_hex(16)
    secret = st.session_state["_owner_secret"]
    if not st.session_state.get("_owner_cookie_written"):
        _set_cookie(OWNER_COOKIE, secret)
        st.session_state["_owner_cookie_written"] = True
    return secret


def _is_admin() -> bool:
    if access.admin_key() is None:
        return False
    if st.session_state.get("_admin") is True:
        return True
    if access.check_admin_token(_cookie(ADMIN_COOKIE)):
        st.session_state["_admin"] = True
        return True
    return False


def actor() -> Actor:
    """Who this session is, for every permission check and as the owner of new runs."""
    user = _signed_in_user()
    owner = access.user_owner(user) if user else access.browser_owner(_browser_secret())
    return Actor(owner=owner, is_admin=_is_admin(), signed_in=user is not None)


def admin_unlock(where=st) -> None:
    """The teacher's key field, shown only when an admin key is configured and not yet entered;
    once accepted, the browser keeps a token so the key is asked for once per browser."""
    if st.session_state.get("_admin_unlocked_here"):
        # On every run of this session, not once: a run can be cut short by the next rerun before its
        # write reaches the browser (seen under load), and the cookies this session was opened with
        # (st.context.cookies) never show the new one. The same element again is not re-run.
        token = access.admin_token()
        if token:
            _set_cookie(ADMIN_COOKIE, token)
    if access.admin_key() is None or _is_admin():
        return
    with where.expander("Teacher access", icon=":material/key:"), st.form("admin_unlock", border=False):
        entered = st.text_input("Admin key", type="password", max_chars=200,
                                help="Set by whoever runs this server (BNVIZ_ADMIN_KEY). Entered once per "
                                     "browser, it lets you cancel, rename or delete every run.")
        if st.form_submit_button("Unlock"):
            if access.check_admin_key(entered):
                st.session_state["_admin"] = True
                st.session_state["_admin_unlocked_here"] = True
                st.rerun()
            else:
                st.error("That is not the admin key.", icon=":material/key_off:")


READ_ONLY = ("You see this run read-only: only the person who started it, or a teacher with the admin key, "
             "can cancel, rename or delete it.")
