"""Run ids: random, URL-safe, fixed length, and checked before they touch anything.

Ids end up in URLs, file names (`models/<id>.keras`) and SQL parameters, so every id
that comes from outside goes through `validate_run_id` first. The alphabet leaves no
room for path separators, dots, quotes or whitespace, and a run id never starts with
"-" so it cannot be mistaken for a command-line option.
"""

from __future__ import annotations

import re
import secrets

from bnviz.errors import UserError

RUN_ID_BYTES = 16  # 128 random bits: unguessable
RUN_ID_LENGTH = 22  # len(secrets.token_urlsafe(16))
_RUN_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{{RUN_ID_LENGTH - 1}}}")


class InvalidRunId(UserError):
    """An id from outside is not a bnviz run id; the message says why in one line."""


def new_run_id() -> str:
    """A fresh random id: 22 characters of [A-Za-z0-9_-], never starting with '-' or '_'."""
    while True:
        candidate = secrets.token_urlsafe(RUN_ID_BYTES)
        if _RUN_ID.fullmatch(candidate):
            return candidate


def validate_run_id(value: object) -> str:
    """Return `value` if it is a well-formed run id, else raise InvalidRunId."""
    if not isinstance(value, str):
        raise InvalidRunId(f"a run id must be text, got {type(value).__name__}")
    if len(value) != RUN_ID_LENGTH:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise InvalidRunId(f"not a run id: {shown!r} "
                           f"(run ids are {RUN_ID_LENGTH} characters, got {len(value)})")
    if not _RUN_ID.fullmatch(value):
        raise InvalidRunId(f"not a run id: {value!r} (only letters, digits, '-' and '_' are allowed)")
    return value


def is_run_id(value: object) -> bool:
    try:
        validate_run_id(value)
    except InvalidRunId:
        return False
    return True
