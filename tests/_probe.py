"""Run a few lines of tdacnn in a fresh interpreter under an address-space cap, and read back
what happened and the interpreter's own peak resident memory (VmHWM: ``ru_maxrss`` would carry
the forking test process's peak over ``exec``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_TEMPLATE = """
import json, resource, sys
cap = {cap}
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
out = {{}}
try:
{body}
except MemoryError:
    out["error"] = "MemoryError"
except Exception as exc:
    out["error"] = f"{{type(exc).__name__}}: {{exc}}"
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
out["peak_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""


def run_probe(body: str, args: tuple[str, ...] = (), home: Path | None = None, cap: int = 3 * 2**30,
              timeout: float = 300) -> dict:
    """Run ``body`` (statements that fill the dict ``out``; ``sys.argv[1:]`` are ``args``).

    Returns ``out`` with ``error`` (a raised exception, one line) or what ``body`` put there,
    and ``peak_mb``.
    """
    code = _TEMPLATE.format(cap=int(cap), body=textwrap.indent(textwrap.dedent(body).strip(), "    "))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    if home is not None:
        env["TDACNN_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
