"""The one results store: one factory, one eviction policy, keys carrying the code's version."""

from __future__ import annotations

import subprocess
import sys

import diskcache
import numpy as np
import pytest

from tdacnn import store as store_mod
from tdacnn.errors import UserError
from tdacnn.store import CACHE_VERSION, EVICTION_POLICY, VersionedStore, results_store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TDACNN_HOME", str(tmp_path))
    monkeypatch.delenv("TDACNN_CACHE_MB", raising=False)
    store_mod.forget_stores()
    yield tmp_path
    store_mod.forget_stores()


def test_one_handle_per_process_and_folder_with_the_one_policy(home):
    a, b = results_store(), results_store()
    assert a is b
    assert a.path == home / "cache" / "results"
    assert a.cache.eviction_policy == EVICTION_POLICY == "least-recently-used"
    assert a.cache.size_limit == 2048 * 2**20


def test_the_app_analysis_uses_the_one_store(home):
    from tdacnn.app import services

    services.reset()
    assert services.get_analysis().store is results_store()


def test_values_are_shared_between_processes(home):
    results_store()["x"] = np.arange(3)
    code = ("from tdacnn.store import results_store; s = results_store(); "
            "print(s['x'].tolist()); s['from-child'] = 7")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "TDACNN_HOME": str(home)})
    assert out.stdout.strip() == "[0, 1, 2]"
    assert results_store()["from-child"] == 7


def test_every_key_carries_the_code_version_and_another_version_sees_nothing(home):
    s = results_store()
    s["barcode:abc"] = "made by this code"
    raw = list(s.cache.iterkeys())
    assert raw == [f"{CACHE_VERSION}|barcode:abc"]
    assert "significance" in CACHE_VERSION and "mapper" in CACHE_VERSION and "defaults" in CACHE_VERSION
    older = VersionedStore(s.cache, version="0.0.1/mapper1/defaults1/significance0")
    assert "barcode:abc" not in older and older.get("barcode:abc") is None
    assert list(s) == ["barcode:abc"] and len(s) == 1


def test_a_stored_barcode_is_keyed_by_the_significance_rule(home, monkeypatch):
    """A barcode computed through the app's analysis lands under the current version; changing the rule's
    version makes the same request miss (recompute) instead of serving the old verdict."""
    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import CloudParams, PersistenceParams
    from tdacnn.weights import WeightSet
    from tdacnn.config import DEFAULT_RUN

    a = Analysis(store=results_store())
    cloud = a.cloud(WeightSet.load(DEFAULT_RUN), CloudParams(1))
    dense = a.dense(cloud)
    a.barcode(dense, PersistenceParams())
    keys = [k for k in results_store().cache.iterkeys() if "barcode:" in k]
    assert keys and all(k.startswith(CACHE_VERSION + "|") for k in keys)
    newer = VersionedStore(results_store().cache, version=CACHE_VERSION.replace("significance", "significance9"))
    assert not [k for k in newer if k.startswith("barcode:")]


def test_the_store_evicts_least_recently_used_past_its_limit(home, monkeypatch):
    monkeypatch.setenv("TDACNN_CACHE_MB", "1")
    store_mod.forget_stores()
    s = results_store()
    blob = np.zeros(20_000, dtype=np.uint8)  # 20 KB each: 150 of them are three times the limit
    s["keep"] = blob
    for i in range(150):
        s[f"v{i}"] = blob + 1
        _ = s["keep"]  # used again and again: the least recently used go first
    assert s.cache.volume() <= 1.3 * 2**20
    assert "keep" in s
    assert "v0" not in s


@pytest.mark.parametrize("bad", ["lots", "0", "-5", "1.5"])
def test_a_bad_size_limit_is_one_sentence(home, monkeypatch, bad):
    monkeypatch.setenv("TDACNN_CACHE_MB", bad)
    store_mod.forget_stores()
    with pytest.raises(UserError, match="TDACNN_CACHE_MB must be a whole number"):
        results_store()


def test_a_folder_made_with_other_settings_is_brought_to_the_one_policy(home):
    folder = home / "cache" / "results"
    old = diskcache.Cache(str(folder), eviction_policy="none", size_limit=2**40)
    old.close()
    s = results_store()
    assert s.cache.eviction_policy == EVICTION_POLICY and s.cache.size_limit == 2048 * 2**20
