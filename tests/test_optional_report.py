"""matplotlib is an optional extra (``tdacnn[report]``): the app never imports it, and where it is missing
the commands that draw static figures say so in one sentence."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tdacnn.errors import UserError
from tdacnn.view import static

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "the report needs matplotlib: pip install 'tdacnn[report]'"

#: Run first in a child: any import of matplotlib fails as if it were not installed, and is recorded.
BLOCK = """
import sys
TRIED = []
class _NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'matplotlib':
            TRIED.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoMatplotlib())
"""


def _child(code: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(TDACNN_HOME=str(home), TDACNN_LOCAL_WORKER="0")
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_app_serves_its_page_without_matplotlib(tmp_path):
    code = ("import app\n"
            "client = app.server.test_client()\n"
            "codes = [client.get(u).status_code for u in ('/', '/_dash-layout', '/_dash-dependencies')]\n"
            "print(json.dumps({'codes': codes, 'tried': TRIED}))\n")
    out = _child("import json\n" + code, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"codes": [200, 200, 200], "tried": []}, "the web process never imports matplotlib"


def test_only_the_report_draws_with_matplotlib():
    """matplotlib is imported by tdacnn.view.static alone, and that module by tdacnn.reproduce alone."""
    def imports(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
        return names

    files = {p.relative_to(ROOT).as_posix(): imports(p) for p in (ROOT / "tdacnn").rglob("*.py")}
    files["app.py"] = imports(ROOT / "app.py")
    drawing = {f for f, names in files.items() if any(n.split(".")[0] == "matplotlib" for n in names)}
    assert drawing == {"tdacnn/view/static.py"}
    users = {f for f, names in files.items() if "tdacnn.view.static" in names}
    assert users and all(f.startswith("tdacnn/reproduce/") for f in users), users


def test_a_figure_without_matplotlib_raises_the_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(UserError, match=re.escape(SENTENCE)):
        static.filters_figure(np.zeros((4, 3, 3)))


def test_reproduce_without_matplotlib_says_so_before_training(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    args = ["reproduce", "--only", "mnist", "--data-root", str(tmp_path / "data"), "--runs", str(runs),
            "--out", str(out), "--device", "cpu"]
    proc = _child(f"from tdacnn.cli import main\nsys.exit(main({args!r}))\n", tmp_path / "home")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == f"tdacnn reproduce: error: {SENTENCE}"
    assert "Traceback" not in proc.stderr
    assert not runs.exists() or not any(runs.iterdir()), "nothing is trained"
    assert not (out / "report.html").exists()
