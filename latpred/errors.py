"""The one exception type for errors a user can cause (bad arguments, bad data, bad plans)."""

from __future__ import annotations


class LatpredError(ValueError):
    """A user-caused error. The CLI prints ``str(err)`` on one line and exits with code 2."""


def bad_value(field: str, value: object, why: str) -> LatpredError:
    """Build the standard one-line message: ``<field>=<value!r>: <why>``."""
    return LatpredError(f"{field}={value!r}: {why}")
