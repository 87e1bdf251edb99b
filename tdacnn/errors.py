"""Errors a user can act on.  Their message is one clear sentence, shown as is
by the CLI (stderr, exit 2) and by the app (next to the control concerned)."""

__all__ = ["UserError"]


class UserError(ValueError):
    """Bad input from the user: a parameter out of range, a file that cannot be used."""
