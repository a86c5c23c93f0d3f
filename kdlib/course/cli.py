"""Command line: ``python -m kdlib data|run|sweep|report|prepare|student-edition|site|teachers``."""

from __future__ import annotations

import argparse
import ast
import signal
import sys
from pathlib import Path

from kdlib import data
from kdlib.course.config import PROFILES, RECIPES
from kdlib.course.edition import student_edition
from kdlib.course.report import expand, update_readme, write_report
from kdlib.course.lessons import notebook_paths
from kdlib.course.runner import prepare_for_nbval, run_chain
from kdlib.course.shipped import PRETRAINED, make_shipped
from kdlib.course.site import build_site
from kdlib.course.sweep import read_spec, run_sweep


def _value(text: str) -> object:
    """A parameter value as papermill's ``-p`` reads it: a Python literal, else a number Python's ``float`` reads
    (``inf``, ``-inf``, ``nan``: refused later by the setting's check, by name), else a string."""
    text = text.strip()  # (``main`` protects a value that starts with "-" by a leading space)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text)
        except ValueError:
            return text


def _protect_values(argv: list[str]) -> list[str]:
    """``argv`` with each ``-p NAME VALUE``'s and ``-g NAME VALUES``' value that starts with "-" (``-inf``, ``-1e-3``)
    given a leading space, so that argparse reads it as the value, not as an option."""
    argv = list(argv)
    for index, arg in enumerate(argv[:-2]):
        if arg in ("-p", "--parameter", "-g", "--grid") and argv[index + 2].startswith("-"):
            argv[index + 2] = " " + argv[index + 2]
    return argv


def split_values(text: str) -> list[str]:
    """A grid axis's values as ``-g`` takes them: separated by the commas outside brackets and quotes, so that
    ``[0.12,0.25],[0.5]`` gives two lists."""
    values, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:index])
            start = index + 1
    if depth or quote:
        raise ValueError(f"-g value {text!r} has an unclosed bracket or quote: write lists as [a,b] and text as 'a'")
    return values + [text[start:]]


def _stop(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: the command stops through its clean-up (no half-executed notebook left behind)."""
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("data", help="find, verify and report data sets")
    check.add_argument("names", nargs="*", default=sorted(data.DATASETS), help="data sets (default: all)")
    check.add_argument("--no-download", action="store_true", help="never try a download")

    chain = argparse.ArgumentParser(add_help=False)  # the options of every command that runs the notebooks
    chain.add_argument("--profile", choices=PROFILES, default=None, help="default: $KDLIB_PROFILE, else quick")
    chain.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="a parameter of the notebooks that declare it (repeatable)")
    chain.add_argument("--only", action="append", metavar="NOTEBOOK",
                       help="run only this notebook, e.g. 01_soft_labels (repeatable)")
    chain.add_argument("--from", dest="start", metavar="NOTEBOOK",
                       help="run this notebook and every one after it, e.g. 04_distilling_students")

    run = commands.add_parser("run", parents=[chain], help="execute the notebooks in order with papermill")
    run.add_argument("--run-dir", default=None, help="default: runs/<profile>")
    run.add_argument("--update-notebooks", action="store_true",
                     help="write the executed, cleaned notebooks back into notebooks/ (for committing)")
    run.add_argument("--record-timings", action="store_true",
                     help="store the measured times in notebooks/timings.json (shown by the overview); "
                          "only for a run folder without checkpoints, so that the notebooks train")

    sweep = commands.add_parser("sweep", parents=[chain],
                                help="run the notebooks once per point of a parameter grid (resumable)")
    sweep.add_argument("spec", nargs="?", type=Path, help="YAML file: grid, and optionally profile, parameters, "
                       "only, from, base")
    sweep.add_argument("-g", "--grid", nargs=2, action="append", default=[], metavar=("NAME", "VALUES"),
                       help="a grid axis, values separated by commas, e.g. -g temperature 1,4,20, or lists: -g student_widths "
                            "[0.12],[0.12,0.25] (repeatable)")
    sweep.add_argument("--out", required=True, help="folder of the sweep; one run folder per point")
    sweep.add_argument("--workers", type=int, metavar="N", help="run the points on a local Dask cluster of N worker "
                       "processes, each with its share of the cores (needs pip install -e '.[cluster]')")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="run the points on the Dask cluster whose scheduler is "
                       "at ADDRESS, e.g. tcp://10.0.0.5:8786 (docs/sweeps.md: several machines, Slurm)")
    sweep.add_argument("--base", type=Path, help="run folder whose checkpoints and records seed every point "
                       "(e.g. the teachers for a sweep of notebook 04)")

    report = commands.add_parser("report", help="collect the records of run folders into CSV, Markdown and plots")
    report.add_argument("runs", nargs="*", type=Path, help="run folders (a sweep's folder: all its points)")
    report.add_argument("--out", default="report", help="where to write (default: report/)")
    report.add_argument("--readme", type=Path, help="instead: regenerate every '<!-- kdlib report RUN... --out "
                        "FOLDER -->' block of this Markdown file from the runs it names")
    report.add_argument("--block", action="append", metavar="RUN",
                        help="with --readme: regenerate only the blocks that name this run folder, as the marker "
                             "writes it (repeatable); the others are left as they are")

    prep = commands.add_parser("prepare", help="inject parameters into copies of the notebooks for nbval")
    prep.add_argument("--profile", choices=PROFILES, default="smoke")
    prep.add_argument("--out", default="build/nbval", help="an empty or new folder, or one made by prepare")
    prep.add_argument("--student", action="store_true", help="the student edition: solutions replaced by stubs")

    student = commands.add_parser("student-edition", help="write every notebook without its worked solutions "
                                  "(cells tagged 'solution'), each exercise left as a stub that runs")
    student.add_argument("--out", default="build/student",
                         help="an empty or new folder, or one the student edition wrote (default build/student)")

    site = commands.add_parser("site", help="build the course website from the committed notebooks (not executed), "
                               "the README and docs/; works offline once its two npm packages are cached")
    site.add_argument("--out", type=Path, default=Path("build/site"),
                      help="an empty or new folder, or one this command built before (default build/site); "
                           "the site is OUT/html")

    ship = commands.add_parser("teachers", help="train the models shipped under pretrained/ from their recipes "
                               "(kdlib.course.config.RECIPES) and write each with its manifest")
    ship.add_argument("--only", action="append", choices=sorted(RECIPES), metavar="NAME",
                      help=f"only this model (repeatable): {', '.join(sorted(RECIPES))}")
    ship.add_argument("--work", type=Path, default=Path("runs/teachers"),
                      help="folder of the training checkpoints (resumable; default runs/teachers)")
    ship.add_argument("--out", type=Path, default=PRETRAINED, help="where the shipped files go (default pretrained/)")
    ship.add_argument("--replace", action="store_true", help="train again and replace files already there")
    ship.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")

    args = parser.parse_args(_protect_values(sys.argv[1:] if argv is None else argv))
    signal.signal(signal.SIGTERM, _stop)
    try:
        if args.command == "data":
            for name in args.names:
                for split in ("train", "test"):
                    found = data.load(name, split, download=not args.no_download)
                    print(f"{name} {split}: {len(found)} images, SHA-256 verified, from {found.source}")
        elif args.command == "run":
            run_chain(args.profile, args.run_dir, {k: _value(v) for k, v in args.parameter},
                      args.update_notebooks, args.record_timings, args.only, args.start)
        elif args.command == "sweep":
            spec = read_spec(args.spec) if args.spec else {"grid": {}}
            grid = spec["grid"] | {name: [_value(v) for v in split_values(values.strip())] for name, values in args.grid}
            run_sweep(args.out, grid, args.profile or spec.get("profile"),
                      spec.get("parameters", {}) | {k: _value(v) for k, v in args.parameter},
                      args.only or spec.get("only"), args.start or spec.get("from"), args.base or spec.get("base"),
                      args.workers, args.scheduler)
        elif args.command == "report":
            if bool(args.runs) == bool(args.readme):
                raise ValueError("give run folders or --readme FILE (one of them)")
            if args.readme:
                for block in update_readme(args.readme, args.block):
                    if block.startswith("kept: "):
                        print(f"{args.readme}: left as it was (not named by --block): {block.removeprefix('kept: ')}")
                    else:
                        print(f"{args.readme}: regenerated the report of {block}")
            else:
                for kind, path in write_report(expand(args.runs), args.out).items():
                    print(f"{kind}: {path}")
        elif args.command == "student-edition":
            for path in student_edition(notebook_paths(), args.out):
                print(path)
        elif args.command == "site":
            print(f"the course site: {build_site(args.out)}")
        elif args.command == "teachers":
            for name in args.only or sorted(RECIPES):
                manifest = make_shipped(name, args.work, args.out, args.device, args.replace)
                print(f"{args.out / manifest.checkpoint.file}: SHA-256 {manifest.checkpoint.sha256}, quality {manifest.quality}")
        else:
            if not args.out.strip():
                raise ValueError("--out is empty: name a folder")
            for path in prepare_for_nbval(args.profile, Path(args.out), args.student):
                print(path)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"stopped ({err or 'Ctrl-C'}): what finished is kept (notebooks, checkpoints, records); the same "
              f"command goes on from there", file=sys.stderr)
        return 130
    return 0
