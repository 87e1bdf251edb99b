"""``tdacnn train``: train an ensemble of the paper's CNNs into a run folder."""

from __future__ import annotations

import argparse

from tdacnn.errors import UserError

HELP = "train N small CNNs with weight snapshots into a run folder"


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,100,200; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help=HELP, description=HELP + ".")
    p.add_argument("--dataset", choices=("digits", "mnist", "cifar10"), default="digits",
                   help="digits (bundled, no download; default), mnist or cifar10")
    p.add_argument("--data-root", metavar="DIR", help="folder holding MNIST/raw/ or cifar-10-batches-py/")
    p.add_argument("--download", action="store_true", help="download MNIST / CIFAR-10 if missing")
    p.add_argument("--networks", type=int, default=8, metavar="N", help="number of networks (default 8)")
    p.add_argument("--iterations", type=int, default=1000, metavar="T", help="optimiser steps per network")
    p.add_argument("--snapshots", type=_int_list, default=(0, 100, 200, 400, 1000), metavar="LIST",
                   help="iterations at which conv weights are saved, e.g. 0,100,200,400 (the last is always saved)")
    p.add_argument("--snapshot-layers", type=_int_list, default=None, metavar="LIST",
                   help="conv layers kept at intermediate snapshots (default all; the last snapshot keeps all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default="adam")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--conv1", type=int, default=None, help="filters in conv layer 1 (default 64)")
    p.add_argument("--conv2", type=int, default=None, help="filters in conv layer 2 (default 32)")
    p.add_argument("--hidden", type=int, default=None, help="width of the dense layer (default 64)")
    p.add_argument("--shared-batches", action="store_true",
                   help="all networks see the same minibatches (they still differ in initialisation)")
    p.add_argument("--store-dtype", choices=("float32", "float16"), default="float32")
    p.add_argument("--workers", type=int, default=None, help="CPU worker processes (default: one per core)")
    p.add_argument("--backend", choices=("auto", "serial", "pool", "batched"), default="auto",
                   help=argparse.SUPPRESS)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to create (or resume)")
    p.add_argument("--progress", choices=("auto", "bar", "lines", "off"), default="auto",
                   help="progress on stderr: a bar (tqdm), a line every 10 s, or nothing; "
                        "auto (default): the bar on a terminal, lines otherwise")
    p.add_argument("--quiet", action="store_true", help="no progress (same as --progress off)")
    p.set_defaults(func=run)
    return p


def config_from_args(args: argparse.Namespace):
    """The :class:`TrainConfig` the parsed arguments describe."""
    from tdacnn.training.config import TrainConfig

    return TrainConfig(
        dataset=args.dataset, data_root=args.data_root, download=args.download, n_networks=args.networks,
        iterations=args.iterations, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, snapshots=args.snapshots,
        snapshot_layers=args.snapshot_layers, store_dtype=args.store_dtype, seed=args.seed,
        device=args.device, shared_batches=args.shared_batches, conv1=args.conv1, conv2=args.conv2,
        hidden=args.hidden, workers=args.workers, backend=args.backend,
    )


def run(args: argparse.Namespace) -> int:
    from tdacnn.progress import TqdmBar
    from tdacnn.training.run import train_run

    cfg = config_from_args(args)
    with TqdmBar(mode="off" if args.quiet else args.progress) as bar:
        info = train_run(cfg, args.out, progress=bar)
    accs = [a for a in info["test_acc"] if a is not None]
    acc = f"mean test accuracy {100 * sum(accs) / len(accs):.1f}%" if accs else "no finished network"
    print(f"{info['status']}: {cfg.n_networks} networks, {acc}, {info['timings']['train_s']:.1f} s "
          f"({info['timings']['backend']} on {info['timings']['device']}) -> {args.out}")
    if info["status"] != "complete":
        raise UserError(f"training stopped early ({info['status']}); repeat the command to resume it")
    return 0
