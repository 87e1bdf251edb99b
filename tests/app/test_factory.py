"""The app factory, app.py and ``tdacnn serve`` (no browser)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def test_create_app_has_tabs_and_registered_callbacks(synthetic_home):
    from tdacnn.app import create_app

    app = create_app(warm=False)
    layout = app.layout()
    text = str(layout)
    for tab in ("explore", "dynamics", "depth", "jobs"):
        assert f"value='{tab}'" in text
    outputs = " ".join(app.callback_map)
    for out in ("explore-graph.elements", "explore-barcode.figure", "explore-gallery.children",
                "dynamics-grid.children", "depth-grid.children", "explore-download.data"):
        assert out in outputs
    assert app.server.name  # a Flask app for gunicorn


def test_app_py_imports_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["TDACNN_HOME"] = str(tmp_path)
    code = ("import app, flask; assert not hasattr(app, 'celery_app'); assert isinstance(app.server, flask.Flask);"
            " print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
    assert "torch" not in subprocess.run(
        [sys.executable, "-c", "import sys, app; print(' '.join(m for m in sys.modules if m.split('.')[0] == 'torch'))"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120).stdout, "the web process never imports torch"


def test_serve_rejects_a_bad_port(tmp_path):
    env = {**os.environ, "TDACNN_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tdacnn.cli", "serve", "--port", "70000"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "--port must be between 1 and 65535" in out.stderr
