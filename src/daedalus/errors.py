"""The library's own errors. Every message names the bad value and what was expected."""


class DaedalusError(Exception):
    """Base class of every error Daedalus raises on purpose."""


class UsageError(DaedalusError, ValueError):
    """A bad argument or input value."""
