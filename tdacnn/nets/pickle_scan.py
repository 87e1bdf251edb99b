"""Read what a pickle would import, without running it (``pickletools`` opcodes only).

Used to explain why ``torch.load(weights_only=True)`` refused a file: a payload
that would run code (``posix.system``, ``builtins.exec``), a whole pickled
``nn.Module``, or merely an unsupported object such as ``argparse.Namespace``.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Any

from tdacnn.errors import UserError

__all__ = ["pickle_globals", "refusal"]

#: Modules whose globals in a pickle mean "this would run code", not just "unsupported object".
_CODE_MODULES = (
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy",
    "builtins", "__builtin__", "pickle", "marshal", "types", "code", "pty", "ctypes", "webbrowser",
    "functools", "operator", "commands", "platform", "multiprocessing", "threading", "signal",
)  # fmt: skip
#: Builtins that only build data (``nn.Module`` pickles use ``set``); every other builtin counts as code.
_DATA_BUILTINS = {
    f"{m}.{n}"
    for m in ("builtins", "__builtin__")
    for n in ("set", "frozenset", "dict", "list", "tuple", "slice", "bytearray", "bytes", "complex", "object", "range")
}


def pickle_globals(data: bytes, max_pickles: int = 5) -> list[str]:
    """``module.name`` of every global a pickle stream would import, in order.

    Handles ``GLOBAL``/``INST`` (protocols 0-2) and ``STACK_GLOBAL`` (4-5, with the
    memo); several concatenated pickles (the legacy ``torch.save`` layout) are read
    in turn.  Stops quietly at the first malformed opcode.
    """
    found: list[str] = []
    pos = 0
    for _ in range(max_pickles):
        if pos >= len(data):
            break
        strings: list[str] = []
        memo: dict[int, Any] = {}
        last: Any = None
        end = pos
        try:
            for op, arg, at in pickletools.genops(memoryview(data)[pos:].tobytes() if pos else data):
                end = pos + at
                name = op.name
                if name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", ".", 1))
                elif name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str) and "UNICODE" in name:
                    strings.append(arg)
                    last = arg
                    continue
                elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                    memo[int(arg)] = last
                elif name == "MEMOIZE":
                    memo[len(memo)] = last
                elif name in ("BINGET", "LONG_BINGET", "GET"):
                    val = memo.get(int(arg))
                    if isinstance(val, str):
                        strings.append(val)
                    last = val
                    continue
                elif name == "STOP":
                    end = pos + at + 1
                    break
                last = None
        except Exception:  # noqa: BLE001 - a malformed stream just ends the scan
            break
        if end <= pos:
            break
        pos = end
    return found


def _torch_pickle_bytes(path: Path, fmt: str) -> bytes:
    if fmt == "torch-zip":
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
            return zf.read(name)
    with open(path, "rb") as fh:
        return fh.read(4 * 1024 * 1024)  # the pickles come first; the storages follow


def refusal(path: Path, fmt: str) -> UserError | None:
    """The UserError for a pickle that ``weights_only`` refused: say what it wanted."""
    try:
        globs = pickle_globals(_torch_pickle_bytes(path, fmt))
    except Exception:  # noqa: BLE001
        globs = []
    safe_prefixes = ("torch.", "collections.OrderedDict", "_codecs.encode")
    modules = [g for g in globs if g.startswith(("torch.nn.modules.", "torchvision.models."))]
    code = [g for g in globs if g.split(".", 1)[0] in _CODE_MODULES and g not in _DATA_BUILTINS]
    other = [g for g in globs if not g.startswith(safe_prefixes) and g not in code and g not in _DATA_BUILTINS]
    plain_data = ("numpy.", "argparse.", "collections.", "datetime.", "pathlib.", "enum.", "typing.", "omegaconf.")
    classes = [g for g in other if not g.startswith(plain_data)]
    if code:
        return UserError(
            f"refused to load {path.name}: it tries to run code ({', '.join(dict.fromkeys(code))}) when "
            "unpickled; tdacnn only loads plain weights and never executes anything from a file"
        )
    if modules or classes:
        what = ", ".join(list(dict.fromkeys([c for c in classes if c not in modules] + modules))[:3])
        return UserError(
            f"{path.name} holds a whole pickled model ({what}), which cannot be loaded without running its "
            "code; save its weights instead with torch.save(model.state_dict(), path)"
        )
    if not other:
        return None
    what = ", ".join(list(dict.fromkeys(other))[:3])
    return UserError(
        f"{path.name} holds Python objects tdacnn does not load ({what}); "
        "re-save only the weights with torch.save(model.state_dict(), path)"
    )
