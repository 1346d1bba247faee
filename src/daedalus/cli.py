"""The ``daedalus`` command. Each part registers its own subcommands; heavy imports happen inside handlers, so
``daedalus --help`` works with only the base install."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from daedalus import __version__
from daedalus.errors import DaedalusError

# Modules that expose ``register(subparsers)``; each part adds its own line.
COMMAND_MODULES = [
    "daedalus.maze.cli",
    "daedalus.trainer.cli",
    "daedalus.trainer.critic_cli",
    "daedalus.export.cli",
    "daedalus.runtime.cli",
    "daedalus.runtime.eval_cli",
    "daedalus.game_demo.cli",
    "daedalus.web",
]


class Parser(argparse.ArgumentParser):
    """argparse with the README's promise: a bad argument is one line naming it, not a usage block first.
    Subcommand parsers are of this class too (``add_subparsers`` makes them with the parent's class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="daedalus",
        description="Daedalus: train a maze VAE, export its decoder to ONNX, generate levels that are always "
        "solvable, and play them.",
        epilog="Run 'daedalus COMMAND --help' for the options of one command. Set DAEDALUS_DEBUG=1 for tracebacks.",
    )
    parser.add_argument("--version", action="version", version=f"daedalus {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    # A warning (a short KL schedule, both onnxruntime builds) is one line, like an error, not a source excerpt.
    print(f"daedalus: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"daedalus {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`daedalus info | head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError as error:
        if os.environ.get("DAEDALUS_DEBUG"):
            raise
        print(f"daedalus {args.command}: error: not enough memory for this request ({error}); ask for less",
              file=sys.stderr)
        return 2
    except (DaedalusError, ValueError, OSError) as error:
        if os.environ.get("DAEDALUS_DEBUG"):
            raise
        print(f"daedalus {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
