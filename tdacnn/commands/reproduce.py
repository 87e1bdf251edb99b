"""``tdacnn reproduce``: regenerate the published results into a report (HTML, PNGs, JSON).

Trains (or reuses cached) ensembles of the paper's CNNs on MNIST and CIFAR-10,
analyses their filters, the filters of VGG16 checkpoints and natural image
patches, and writes ``DIR/report.html`` (self-contained), one PNG per figure,
``DIR/results.json`` and ``DIR/SUMMARY.md`` (verdicts, key numbers and figure
links relative to the working directory, for a README).  Sizes: ``--quick`` for tests (seconds), else the ``cpu``
profile (a 2-core machine, about half an hour) or, on a CUDA GPU, the full-size
``gpu`` profile; ``--networks``/``--iterations`` override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tdacnn.errors import UserError

__all__ = ["add_parser", "run", "default_data_root"]

HELP = "regenerate the paper's results (MNIST, CIFAR-10, dynamics, VGG16 depth, natural patches) into a report"


def _parts(text: str) -> tuple[str, ...]:
    from tdacnn.reproduce.settings import PARTS

    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in PARTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(PARTS)}; got {text!r}")
    return names


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("reproduce", help=HELP, description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--out", type=Path, default=Path("reproduction"), metavar="DIR",
                   help="where report.html, results.json and the PNGs go (default ./reproduction)")
    p.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                   help="folder holding MNIST/raw/ and cifar-10-batches-py/ (default: ../shared/data if present, "
                        "else $TDACNN_DATA or <tdacnn home>/datasets)")
    p.add_argument("--download", action="store_true",
                   help="download missing MNIST / CIFAR-10 files and the ImageNet VGG16 weights (needs internet)")
    p.add_argument("--only", type=_parts, default=None, metavar="PARTS",
                   help="comma-separated subset of mnist,cifar10,dynamics,depth,patches (default all)")
    p.add_argument("--networks", type=int, default=None, metavar="N", help="networks per ensemble (both datasets)")
    p.add_argument("--iterations", type=int, default=None, metavar="T", help="training steps (both datasets)")
    p.add_argument("--seed", type=int, default=None, help="seed of training and subsampling (default 0)")
    p.add_argument("--vgg16", type=Path, action="append", default=[], metavar="FILE",
                   help="a VGG16 checkpoint to analyse (repeatable)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for tests (seconds; results meaningless)")
    p.add_argument("--profile", choices=("quick", "cpu", "full", "gpu"), default=None,
                   help="sizes: quick (tests), cpu (half an hour on 2 cores), full (the paper's ensemble sizes, "
                        "a few hours on 2 cores), gpu (full size on CUDA); default gpu on CUDA, else cpu")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: the full-size gpu profile on a CUDA GPU, else the cpu profile")
    p.add_argument("--runs", type=Path, default=None, metavar="DIR",
                   help="cache of training runs (default <tdacnn home>/reproduce-runs)")
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of a summary")
    p.set_defaults(func=run)
    return p


def _has_data(folder: Path) -> bool:
    return (folder / "MNIST" / "raw").is_dir() or (folder / "cifar-10-batches-py").is_dir()


def default_data_root() -> Path:
    """``../shared/data`` (from the working directory, then from the repository) if it holds data,
    else :func:`tdacnn.data.default_root`."""
    from tdacnn.config import REPO_DATA
    from tdacnn.data import default_root

    for cand in (Path.cwd().parent / "shared" / "data", REPO_DATA.parents[1] / "shared" / "data"):
        if _has_data(cand):
            return cand.resolve()
    return default_root()


def _slug(path: Path) -> str:
    import hashlib

    return hashlib.sha256(str(path).encode()).hexdigest()[:10]


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tdacnn.reproduce.common import Context
    from tdacnn.reproduce.report import jsonable, write_html, write_results, write_summary
    from tdacnn.reproduce.runner import reproduce
    from tdacnn.reproduce.runs import default_runs_root
    from tdacnn.reproduce.settings import PARTS, settings_for
    from tdacnn.training.ensemble import resolve_device

    device = resolve_device(args.device)
    profile = "quick" if args.quick else (args.profile or ("gpu" if device == "cuda" else "cpu"))
    settings = settings_for(profile, args.networks, args.iterations, args.seed)
    data_root = (args.data_root.expanduser() if args.data_root is not None else default_data_root()).resolve()
    for f in args.vgg16:
        if not f.is_file():
            raise UserError(f"--vgg16 {f}: no such file")
    out = args.out.expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    runs_root = args.runs.expanduser() if args.runs else default_runs_root()
    train_root = data_root
    if profile == "quick":  # tests: the first images only (reading and evaluating whole datasets dominates)
        from tdacnn.reproduce.quickdata import QUICK_TEST, QUICK_TRAIN, quick_data_root

        train_root = quick_data_root(data_root, runs_root / f"quick-data-{_slug(data_root)}")
        settings = replace(settings, notes=settings.notes + (
            f"quick mode trains on the first {QUICK_TRAIN} MNIST training images and tests on the first "
            f"{QUICK_TEST} test images of {data_root}",))
    ctx = Context(settings=settings, out_dir=out, data_root=train_root, runs_root=runs_root, device=device,
                  download=args.download, vgg16=list(args.vgg16), say=say)
    say(f"tdacnn reproduce: profile {profile} on {device}, data from {data_root}, writing to {out}")
    def write(results: dict) -> Path:  # after every part, so a stopped reproduction keeps what it finished
        write_results(results, out)
        write_summary(results, out)
        return write_html(results, out)

    results = reproduce(ctx, args.only or PARTS, on_part=write)
    report = write(results)
    failed = [n for n, e in results["experiments"].items() if e["status"] == "failed"]
    if args.json:
        json.dump(jsonable(results), sys.stdout)
        sys.stdout.write("\n")
    else:
        for name, e in results["experiments"].items():
            print(f"{name:9s} {e['status']:8s} {str(e['verdict']):12s} {e['seconds']:7.1f} s  {e['summary']}")
        print(f"report: {report}")
    if failed:
        say(f"tdacnn reproduce: {len(failed)} part(s) could not run: "
            + "; ".join(f"{n}: {results['experiments'][n]['summary']}" for n in failed))
        return 1
    return 0
