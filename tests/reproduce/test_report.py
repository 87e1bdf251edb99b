"""report.html and SUMMARY.md from their Jinja2 templates, from a results document read back from JSON
(no training: the documents here are made by hand, or are the committed docs/reproduction/results.json)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tdacnn.reproduce.report import write_html, write_results, write_summary

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "tdacnn" / "reproduce" / "templates"
DOCS = ROOT / "docs" / "reproduction"


def _png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def _results() -> dict:
    """A small results document with one hostile string and one figure whose file is missing."""
    return {
        "format": "tdacnn-reproduction/1", "created": "2026-01-01T00:00:00Z", "command": "tdacnn reproduce --quick",
        "device": "cpu", "data_root": "/data", "runs_root": "/runs",
        "settings": {"profile": "quick", "mnist_networks": 2, "density_p": 30.0, "notes": ["a note & more"]},
        "versions": {"python": "3.11", "ripser": "0.6"}, "timings": {"mnist": 1.5, "patches": 2.0, "total": 3.5},
        "experiments": {
            "mnist": {"name": "mnist", "title": "MNIST layer 1", "status": "ok", "verdict": "seen",
                      "summary": "one circle <script>alert(1)</script> | piped", "numbers": {"networks": 2,
                      "mean_test_acc": 0.91234, "nested": {"hidden": 1}}, "params": {"k": 5, "_private": "x"},
                      "figures": [{"file": "a.png", "caption": "the graph"}, {"file": "gone.png", "caption": "?"}],
                      "notes": ["quick & small"], "seconds": 1.5, "seconds_training": 1.0},
            "patches": {"name": "patches", "title": "Natural patches", "status": "failed", "verdict": "not run",
                        "summary": "Could not run: no photos", "numbers": {}, "params": {}, "figures": [],
                        "notes": [], "seconds": 2.0, "seconds_training": 0.0},
        },
        "verdicts": {"mnist": "seen", "patches": "not run"},
    }


@pytest.fixture
def report(tmp_path) -> tuple[Path, dict]:
    """``results.json`` and ``a.png`` in a folder, the document read back from the JSON (as the lead's
    re-rendering of a running reproduction reads it)."""
    (tmp_path / "a.png").write_bytes(_png((200, 30, 30)))
    results = json.loads(write_results(_results(), tmp_path).read_text())
    return tmp_path, results


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def test_the_report_inlines_each_existing_figure_and_nothing_else(report):
    out, results = report
    page = _parse(write_html(results, out))
    imgs = [a for t, a in page.tags if t == "img"]
    assert [a["alt"] for a in imgs] == ["a.png"]  # gone.png is skipped, not a broken link
    prefix = "data:image/png;base64,"
    assert imgs[0]["src"].startswith(prefix)
    assert base64.b64decode(imgs[0]["src"][len(prefix):]) == (out / "a.png").read_bytes()
    assert not any(a.get("src", "").startswith("http") or a.get("href", "").startswith("http") for _, a in page.tags)


def test_the_report_escapes_what_the_results_say(report):
    out, results = report
    html = write_html(results, out).read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a note &amp; more" in html and "quick &amp; small" in html


def test_the_report_states_verdicts_numbers_parameters_and_versions(report):
    out, results = report
    page = _parse(write_html(results, out))
    text = "".join("".join(page.text).split())  # compared without whitespace: cells and inline tags run together
    cells = {a.get("class") for t, a in page.tags if t == "td"}
    assert {"seen", ""} <= cells  # the verdict cell is coloured
    ids = [a["id"] for t, a in page.tags if t == "h2" and "id" in a]
    assert ids == ["mnist", "patches"]
    for said in ("Created 2026-01-01T00:00:00Z on device cpu, profile quick", "MNIST layer 1", "Natural patches",
                 "Could not run: no photos", "mean_test_acc 0.912", "mnist_networks 2", "density_p 30",
                 "ripser 0.6", "command tdacnn reproduce --quick", "Timings (seconds)", "total 3.5"):
        assert "".join(said.split()) in text, said
    assert "nested" not in text.split("results.json")[0]  # nested numbers go to the tables, not the key-value list
    assert "parameters" in page.text  # each experiment's parameters, folded


def test_the_summary_is_markdown_with_relative_links(report, tmp_path):
    out, results = report
    text = write_summary(results, out, link_base=tmp_path.parent).read_text()
    assert "| MNIST layer 1 | **seen** | one circle <script>alert(1)</script> / piped | 2 s |" in text  # not escaped
    assert f"![a.png]({tmp_path.name}/a.png)" in text and "gone.png" not in text
    assert f"[{tmp_path.name}/report.html]({tmp_path.name}/report.html)" in text
    assert text.endswith("\n") and "{{" not in text and "{%" not in text


def test_the_committed_reproduction_renders_again(tmp_path):
    """docs/reproduction/results.json, as written by a real run, renders with every figure inlined."""
    results = json.loads((DOCS / "results.json").read_text())
    files = [f["file"] for e in results["experiments"].values() for f in e["figures"]]
    for name in files:
        shutil.copy(DOCS / name, tmp_path / name)
    html = write_html(results, tmp_path).read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(files) > 0
    for e in results["experiments"].values():
        assert e["title"] in html or e["title"].replace("&", "&amp;") in html
    summary = write_summary(results, tmp_path, link_base=tmp_path).read_text()
    assert all(f"({name})" in summary for name in ("report.html", "results.json", "mnist_layer1_graph.png"))


def test_the_templates_ship_with_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p.name for pattern in data["tdacnn.reproduce"] for p in (ROOT / "tdacnn" / "reproduce").glob(pattern)}
    assert shipped == {p.name for p in TEMPLATES.iterdir() if p.is_file()} >= {"report.html.j2", "SUMMARY.md.j2"}


def test_a_stopped_reproduction_keeps_a_report_of_the_parts_it_finished(tmp_path, monkeypatch):
    """After each part the document is handed on (the CLI writes the report then): a reproduction stopped
    hours in keeps what it finished, and says which parts it had not reached."""
    import types

    from tdacnn.reproduce import runner
    from tdacnn.reproduce.common import Context, part_result
    from tdacnn.reproduce.settings import settings_for

    class Stopped(Exception):
        pass

    def fake(name: str, fail: bool):
        def run(ctx):
            if fail:
                raise Stopped(name)
            res = part_result(name, f"title of {name}")
            res.update(verdict="seen", summary=f"{name} measured")
            return res
        return types.SimpleNamespace(TITLE=f"title of {name}", run=run)

    modules = {"tdacnn.reproduce.mnist": fake("mnist", False), "tdacnn.reproduce.patches": fake("patches", True)}
    real = runner.importlib.import_module
    monkeypatch.setattr(runner.importlib, "import_module", lambda name, *a: modules.get(name) or real(name, *a))
    ctx = Context(settings=settings_for("quick"), out_dir=tmp_path, data_root=tmp_path, runs_root=tmp_path,
                  analysis=object())
    seen = []

    def on_part(doc):
        seen.append(doc)
        write_results(doc, tmp_path)
        write_summary(doc, tmp_path, link_base=tmp_path)
        write_html(doc, tmp_path)

    with pytest.raises(Stopped):
        runner.reproduce(ctx, ("mnist", "patches"), on_part=on_part)
    assert [list(d["experiments"]) for d in seen] == [["mnist"]]
    assert seen[0]["unfinished"] == ["patches"]
    assert json.loads((tmp_path / "results.json").read_text())["verdicts"] == {"mnist": "seen"}
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "mnist measured" in summary and "**Not finished**: patches" in summary
    assert "Not finished: patches" in (tmp_path / "report.html").read_text()
