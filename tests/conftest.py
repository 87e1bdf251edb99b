"""Shared fixtures: where the real data lies, temporary data directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ../shared/data beside the checkout (read-only; never write there).
SHARED_DATA = Path(os.environ.get("TDACNN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real MNIST and CIFAR-10 subset (see ../shared/data/README.md)."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.fail(f"real data not found at {SHARED_DATA}; set TDACNN_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture
def tdacnn_home(tmp_path, monkeypatch) -> Path:
    """A fresh TDACNN_HOME for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("TDACNN_HOME", str(home))
    return home
