"""The declared dependencies are the imported ones: nothing imported that pyproject.toml does not declare,
nothing declared that tdacnn never imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Import name -> distribution name, where they differ.
DISTRIBUTION = {"PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image", "gph": "giotto-ph",
                "google": "protobuf", "dash_cytoscape": "dash-cytoscape", "yaml": "pyyaml",
                "umap": "umap-learn"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()


def _imported() -> set[str]:
    mods = set()
    for path in (ROOT / "tdacnn").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {DISTRIBUTION.get(m, m).lower() for m in mods
            if m not in sys.stdlib_module_names and m not in ("tdacnn", "__future__")}


def test_declared_dependencies_equal_the_imported_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for name, reqs in project["optional-dependencies"].items() if name != "test"
              for r in reqs if not r.startswith("tdacnn")}
    imported = _imported()
    assert imported - main - extras == set(), "imported by tdacnn but not declared"
    assert main - imported == set(), "declared but never imported by tdacnn"
    assert extras - imported == set(), "an optional extra tdacnn never imports"
