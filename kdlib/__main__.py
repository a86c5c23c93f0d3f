"""Command line: ``python -m kdlib data|run|prepare``."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from kdlib import data
from kdlib.config import PROFILES
from kdlib.notebooks import prepare_for_nbval, run_chain


def _value(text: str) -> object:
    """A parameter value as papermill's ``-p`` reads it: a Python literal, else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("data", help="find, verify and report data sets")
    check.add_argument("names", nargs="*", default=sorted(data.DATASETS), help="data sets (default: all)")
    check.add_argument("--no-download", action="store_true", help="never try a download")

    run = commands.add_parser("run", help="execute the notebooks in order with papermill")
    run.add_argument("--profile", choices=PROFILES, default=None, help="default: $KDLIB_PROFILE, else quick")
    run.add_argument("--run-dir", type=Path, default=None, help="default: runs/<profile>")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--update-notebooks", action="store_true",
                     help="write the executed, cleaned notebooks back into notebooks/ (for committing)")
    run.add_argument("--only", action="append", metavar="NOTEBOOK",
                     help="run only this notebook, e.g. 01_soft_labels (repeatable)")
    run.add_argument("--record-timings", action="store_true",
                     help="store the measured times in notebooks/timings.json (shown by the overview)")

    prep = commands.add_parser("prepare", help="inject parameters into copies of the notebooks for nbval")
    prep.add_argument("--profile", choices=PROFILES, default="smoke")
    prep.add_argument("--out", type=Path, default=Path("build/nbval"))

    args = parser.parse_args(argv)
    try:
        if args.command == "data":
            for name in args.names:
                for split in ("train", "test"):
                    found = data.load(name, split, download=not args.no_download)
                    print(f"{name} {split}: {len(found)} images, SHA-256 verified, from {found.source}")
        elif args.command == "run":
            run_chain(args.profile, args.run_dir, {k: _value(v) for k, v in args.parameter},
                      args.update_notebooks, args.record_timings, args.only)
        else:
            for path in prepare_for_nbval(args.profile, args.out):
                print(path)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
