"""User-facing errors: one base class the pages, the CLI and the job API catch.

A `UserError` carries a message written for the person who caused it (what is wrong and
what is allowed); it is shown as one line, never as a traceback. It is a `ValueError`, so
code that validates input with `except ValueError` keeps working.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or a refused request; the message is for the user."""


class QueueFull(UserError):
    """An owner already has the maximum number of runs waiting."""


class NotAllowed(UserError):
    """Only the one who started a run (or an admin) may change it."""
