"""``tdacnn make-default-run``: re-create the shipped default run from its recorded recipe."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import tempfile
from pathlib import Path

HELP = "re-create the shipped default run (data/default-run) from its recipe"

#: The recipe of the shipped default run: 40 of the paper's small CNNs (32 filters in
#: layer 1) on the bundled digits, AdamW (lr 3e-3, weight decay 1.0), ~40 epochs (900 steps):
#: the weight decay wears off the random initialisation, leaving edge detectors (the circle).
#: Intermediate snapshots keep only layer 1; float16 keeps the folder under 1 MB.
DEFAULT_RECIPE = (
    "tdacnn train --dataset digits --networks 40 --iterations 900 --snapshots 0,100,200,400,900 "
    "--seed 0 --optimizer adamw --lr 0.003 --weight-decay 1.0 --conv1 32 --conv2 32 "
    "--snapshot-layers 1 --store-dtype float16"
)

NOTES = ("layer 1 is stored at every snapshot, layer 2 only at the final iteration; weights are stored as "
         "float16 (the topology normalises each filter, so the rounding does not matter)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("make-default-run", help=HELP, description=HELP + ".")
    p.add_argument("--out", default=None, metavar="DIR", help="where to write it (default: the shipped data/default-run)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def default_recipe_args(out: str | Path) -> argparse.Namespace:
    """The parsed ``tdacnn train`` arguments of the default recipe writing to ``out``."""
    from tdacnn.cli import build_parser

    argv = shlex.split(DEFAULT_RECIPE)[1:] + ["--out", str(out)]
    return build_parser().parse_args(argv)


def _display(path: Path) -> str:
    """``path`` relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    from tdacnn.commands import train
    from tdacnn.config import DEFAULT_RUN

    out = Path(args.out) if args.out else DEFAULT_RUN
    # train into a fresh folder beside the target, then swap: the old run stays usable until the end
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".default-run-", dir=out.parent))
    try:
        targs = default_recipe_args(tmp / "run")
        targs.quiet = args.quiet
        train.run(targs)
        info_path = tmp / "run" / "run.json"
        info = json.loads(info_path.read_text())
        info["recipe"] = f"{DEFAULT_RECIPE} --out {shlex.quote(_display(out))}"
        info["made_by"] = "tdacnn make-default-run"
        info["notes"] = NOTES
        info_path.write_text(json.dumps(info, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        (tmp / "run").replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"default run written to {out}")
    return 0
