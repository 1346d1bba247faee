"""Daedalus: a procedural level generator that learned its craft from mazes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("daedalus")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
