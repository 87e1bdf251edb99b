"""``tdacnn layers FILE [--json]``: list the conv layers of a weight file, in network order."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "layers",
        help="list the conv layers of a checkpoint or filter file",
        description=(
            "List every conv layer (4-D weight) of a .pt/.pth/.bin, .safetensors, Keras .h5/.keras, .onnx, tdacnn checkpoint, "
            ".npy/.npz filter file or run folder, numbered from 1 in network order. "
            "The file is opened safely: nothing in it is executed."
        ),
    )
    parser.add_argument("file", help="weight file or run folder")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {index, name, shape, ..., analysable, problem}; problem says "
                             "why a layer cannot be analysed (e.g. '1×1: no spatial pattern'), else null")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from tdacnn.nets.checkpoints import list_conv_layers

    layers = list_conv_layers(args.file)
    if args.json:
        json.dump([layer.to_dict() for layer in layers], sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    rows = [("#", "name", "shape (out×in×kh×kw)", "notes")]
    for layer in layers:
        flags = [f for f in layer.flags if not (layer.problem and f in ("1x1", "non-3x3"))]  # the problem says it
        notes = "; ".join(x for x in (f"cannot be analysed: {layer.problem}" if layer.problem else "",
                                      ", ".join(flags)) if x)
        rows.append((str(layer.index), layer.name, "×".join(map(str, layer.shape)), notes))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    from tdacnn.nets.vgg import is_vgg16

    kind = " (VGG16)" if is_vgg16(layers) else ""
    print(f"{len(layers)} conv layer(s){kind}; analyse one with: tdacnn analyze {args.file} --layer N")
    return 0
