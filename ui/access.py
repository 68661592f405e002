"""Who is asking, for the pages: the signed-in user, else this browser; and whether it is an admin.

A browser is recognised by a random secret in a cookie (`bnviz_owner`), read with
`st.context.cookies` and written by a line of JavaScript in the page (`st.html`), so ownership
survives a reload in the same browser while session state does not. A teacher's unlock is a
session of its own (bnviz/store/teachers.py): the browser keeps its random token the same way
(`bnviz_admin`), until Lock, the session's end or a new key; never anything derived from the key.
The rules themselves are in bnviz.access.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import streamlit as st

from bnviz import access
from bnviz.store.teachers import TeacherSessions
from ui.service import store

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
    # On every run of a session that came without the cookie, not only the first: an element drawn on
    # the first run only moved everything below it, and the browser reset the Experiment form's open
    # tab on the first edit (issue 23). The same element again is not re-run.
    _set_cookie(OWNER_COOKIE, secret)
    return secret


def _teachers() -> TeacherSessions:
    return TeacherSessions(store())


def _is_admin() -> bool:
    """A live teacher session: the token this session unlocked, or the one the browser brought."""
    if access.admin_key() is None:
        return False
    token = st.session_state.get("_teacher_token") or _cookie(ADMIN_COOKIE)
    if not token or token == st.session_state.get("_teacher_locked"):
        return False
    if _teachers().active(token) is None:
        st.session_state.pop("_teacher_token", None)
        return False
    st.session_state["_teacher_token"] = token
    return True


def actor() -> Actor:
    """Who this session is, for every permission check and as the owner of new runs."""
    user = _signed_in_user()
    owner = access.user_owner(user) if user else access.browser_owner(_browser_secret())
    return Actor(owner=owner, is_admin=_is_admin(), signed_in=user is not None)


def admin_unlock(where=st) -> None:
    """The teacher's key field when an admin key is configured; in teacher mode, a badge and Lock.

    An accepted key opens a session of its own for this browser (its token in a cookie);
    guesses are throttled, and a refused attempt says when to try again."""
    cookie = st.session_state.get("_teacher_cookie")
    if cookie is not None:
        # On every run of this session, not once: a run can be cut short by the next rerun before its
        # write reaches the browser (seen under load), and the cookies this session was opened with
        # (st.context.cookies) never show the new one. The same element again is not re-run.
        _set_cookie(ADMIN_COOKIE, *cookie)
    if access.admin_key() is None:
        return
    if _is_admin():
        _teacher_badge(where)
        return
    with where.expander("Teacher access", icon=":material/key:"), st.form("admin_unlock", border=False):
        entered = st.text_input("Admin key", type="password", max_chars=200,
                                help="Set by whoever runs this server (BNVIZ_ADMIN_KEY). It lets this browser "
                                     "cancel, rename or delete every run until you lock it again.")
        if st.form_submit_button("Unlock"):
            result = _teachers().unlock(entered, actor().owner)
            if result.token is not None:
                st.session_state["_teacher_token"] = result.token
                st.session_state.pop("_teacher_locked", None)
                st.session_state["_teacher_cookie"] = (result.token, int(result.expires - time.time()))
                st.rerun()
            elif not result.checked:
                st.error(f"Too many attempts. Try again in {_duration(result.wait_s)}.",
                         icon=":material/hourglass_top:")
            else:
                later = f" Wait {_duration(result.wait_s)} before the next try." if result.wait_s else ""
                st.error(f"That is not the admin key.{later}", icon=":material/key_off:")


def _teacher_badge(where) -> None:
    """Teacher mode is visible, and one click ends it in this browser."""
    token = st.session_state.get("_teacher_token")
    left = (_teachers().active(token) or time.time()) - time.time()
    badge, lock = where.columns([3, 1], vertical_alignment="center")
    badge.badge(f"Teacher mode · {_duration(left)} left", icon=":material/verified_user:", color="orange")
    if lock.button("Lock", icon=":material/lock:", key="teacher_lock",
                   help="End teacher mode in this browser now (the admin key is needed again)."):
        _teachers().lock(token)
        st.session_state.pop("_teacher_token", None)
        st.session_state["_teacher_locked"] = token  # the cookie this session was opened with: no longer valid
        st.session_state["_teacher_cookie"] = ("", 0)  # deleted in the browser
        st.rerun()


def _duration(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


READ_ONLY = ("You see this run read-only: only the person who started it, or a teacher with the admin key, "
             "can cancel, rename or delete it.")
