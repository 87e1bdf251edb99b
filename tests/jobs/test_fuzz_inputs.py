"""Bad input everywhere: every parameter of every stage, the training request, the
app's control values, and the loaders of weight files fed random and mutated bytes.

Each either works or raises a clear, user-facing error (a UserError / ValueError
with one sentence) — never another exception, a hang or executed code.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdacnn.errors import UserError
from tdacnn.jobs.requests import TrainRequest
from tdacnn.topology.params import (
    CloudParams,
    DensityParams,
    MapperParams,
    PersistenceParams,
    check_against_cloud,
)
from tdacnn.weights import WeightSet, WeightSetError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: anything a form, a URL or a JSON body can carry, and worse
anything = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "0", "1e9", "nan", "-1", "each", "pca2", "dbscan", "single", "digits", "../x"]),
    st.lists(st.integers(-5, 5), max_size=3),
)


def _clear(exc: BaseException) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg.strip() and "Traceback" not in msg, msg


def _works_or_user_error(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except UserError as exc:
        _clear(exc)
        return None


@contextmanager
def no_hang(seconds: int = 20):
    def boom(*_):
        raise TimeoutError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------
# stage parameters
# ---------------------------------------------------------------------------
@FUZZ
@given(layer=anything, iteration=anything, channels=anything)
def test_cloud_params(layer, iteration, channels):
    p = _works_or_user_error(CloudParams, layer, iteration, channels)
    if p is not None:
        assert CloudParams.from_dict(p.to_dict()).key() == p.key()


@FUZZ
@given(k=anything, p=anything, n=st.integers(-3, 10**6))
def test_density_params_and_cloud_size(k, p, n):
    params = _works_or_user_error(DensityParams, k, p)
    if params is not None:
        assert params.k >= 1 and 0 < params.p <= 100
        try:
            check_against_cloud(n, params)
            refused = False
        except UserError as exc:
            _clear(exc)
            refused = True
        assert refused == (n <= 0 or params.k >= n)


@FUZZ
@given(lens=anything, n_cubes=anything, overlap=anything, clusterer=anything, eps=anything,
       min_samples=anything, distance_cut=anything)
def test_mapper_params(lens, n_cubes, overlap, clusterer, eps, min_samples, distance_cut):
    p = _works_or_user_error(MapperParams, lens, n_cubes, overlap, clusterer, eps, min_samples, distance_cut)
    if p is not None:
        assert 0 < p.overlap < 1 and p.n_cubes >= 1 and math.isfinite(p.eps)


@FUZZ
@given(maxdim=anything, n_perm=anything, thresh=anything, coeff=anything)
def test_persistence_params(maxdim, n_perm, thresh, coeff):
    p = _works_or_user_error(PersistenceParams, maxdim, n_perm, thresh, coeff)
    if p is not None:
        assert p.maxdim in (0, 1, 2)


@FUZZ
@given(dataset=anything, conv1=anything, conv2=anything, networks=anything, iterations=anything,
       snapshots=st.one_of(anything, st.text(alphabet="0123456789, ;-x", max_size=30)), seed=anything,
       data_root=anything, download=anything)
def test_training_request(dataset, conv1, conv2, networks, iterations, snapshots, seed, data_root, download):
    r = _works_or_user_error(TrainRequest, dataset, conv1, conv2, networks, iterations, snapshots, seed,
                             data_root, download)
    if r is not None:
        assert r.iterations in r.snapshots and list(r.snapshots) == sorted(set(r.snapshots))
        assert TrainRequest.from_dict(r.to_dict()) == r
        # what the job process builds from it is accepted by the trainer's own config
        from tdacnn.jobs.tasks import to_train_config

        _works_or_user_error(to_train_config, r)


@FUZZ
@given(d=st.dictionaries(st.sampled_from(["dataset", "networks", "lr", "snapshots", "x", "seed"]), anything,
                         max_size=5))
def test_training_request_from_any_mapping(d):
    _works_or_user_error(TrainRequest.from_dict, d)


@FUZZ
@given(n_networks=st.integers(-3, 50), iterations=st.integers(-3, 10**6), batch_size=st.integers(-3, 10**4),
       lr=st.floats(allow_nan=True, allow_infinity=True), momentum=st.floats(allow_nan=True),
       snapshots=st.lists(st.integers(-5, 10**6), max_size=5), seed=st.integers(-5, 2**40),
       conv1=st.one_of(st.none(), st.integers(-3, 600)))
def test_trainer_config_numbers(n_networks, iterations, batch_size, lr, momentum, snapshots, seed, conv1):
    from tdacnn.training.config import TrainConfig

    _works_or_user_error(TrainConfig, "digits", n_networks=n_networks, iterations=iterations,
                         batch_size=batch_size, lr=lr, momentum=momentum, snapshots=tuple(snapshots),
                         seed=seed, conv1=conv1)


@FUZZ
@given(values=st.dictionaries(
    st.sampled_from(list(__import__("tdacnn.app.controls", fromlist=["CONTROLS"]).CONTROLS)), anything,
    max_size=6))
def test_app_control_values(values):
    """What the Explore tab's controls (or a hand-edited URL) can send."""
    from tdacnn.app.controls import parse_request

    _works_or_user_error(parse_request, values)


# ---------------------------------------------------------------------------
# loaders fed random and mutated bytes
# ---------------------------------------------------------------------------
class _Files(dict):
    def __repr__(self) -> str:  # keep hypothesis' failure reports short
        return f"<valid files {sorted(self)}>"


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, bytes]:
    import torch

    from tdacnn.nets.arch import build_model, get_arch

    d = tmp_path_factory.mktemp("valid")
    torch.manual_seed(0)
    sd = build_model(get_arch("mnist_cnn", conv1=4, conv2=3)).state_dict()
    torch.save(sd, d / "m.pt")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sd.items()}, d / "m.safetensors")
    rng = np.random.default_rng(0)
    np.save(d / "f.npy", rng.normal(size=(10, 3, 3)).astype(np.float32))
    WeightSet.from_arrays([rng.normal(size=(4, 1, 3, 3)) for _ in range(3)]).save(d / "w.npz")
    return _Files({name: (d / name).read_bytes() for name in ("m.pt", "m.safetensors", "f.npy", "w.npz")})


def _mutate(data: bytes, draw_flips, cut: int | None, insert: bytes) -> bytes:
    b = bytearray(data)
    for pos, val in draw_flips:
        b[pos % len(b)] = val
    if cut is not None:
        b = b[: cut % (len(b) + 1)]
    if insert:
        at = len(b) // 2
        b[at:at] = insert
    return bytes(b)


flips = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), max_size=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["m.pt", "m.safetensors", "f.npy", "w.npz"]), fl=flips,
       cut=st.one_of(st.none(), st.integers(0, 10**7)), insert=st.binary(max_size=16))
def test_read_weightset_on_mutated_files(tmp_path, valid_files, name, fl, cut, insert):
    from tdacnn.nets.checkpoints import read_weightset

    path = tmp_path / name
    path.write_bytes(_mutate(valid_files[name], fl, cut, insert))
    with no_hang():
        try:
            ws = read_weightset([path])
        except UserError as exc:
            _clear(exc)
        else:
            assert all(np.all(np.isfinite(e.weight)) and e.weight.ndim == 4 for e in ws.entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fl=flips, cut=st.one_of(st.none(), st.integers(0, 10**7)), insert=st.binary(max_size=16))
def test_weightset_load_on_mutated_files(tmp_path, valid_files, fl, cut, insert):
    path = tmp_path / "w.npz"
    path.write_bytes(_mutate(valid_files["w.npz"], fl, cut, insert))
    with no_hang():
        try:
            ws = WeightSet.load(path)
        except WeightSetError as exc:
            _clear(exc)
        else:
            assert len(ws) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=2000), st.sampled_from([b"", b"PK\x03\x04", b"\x80\x04\x95"])))
def test_upload_path_with_random_bytes(tdacnn_home, data):
    """The whole upload path (staged as the upload route stages it, then the load job's function) with
    arbitrary bytes.  (The queue around it is tested in test_service.py.)"""
    import io

    from tdacnn.app.checkpoint_files import stage_stream
    from tdacnn.errors import UserError
    from tdacnn.jobs.tasks import run_spec

    try:
        staged = stage_stream(io.BytesIO(data), "fuzz.pt")
    except UserError as exc:
        assert not data and "empty" in str(exc)
        return
    with no_hang(30):
        try:
            run_spec({"kind": "load", "path": str(staged), "name": "fuzz.pt", "staged": True})
        except UserError as exc:
            assert str(exc).startswith("fuzz.pt") and "Traceback" not in str(exc)
    uploads = Path(tdacnn_home) / "uploads"
    assert not list((uploads / ".incoming").iterdir())
    assert all(p.resolve().is_relative_to(uploads.resolve()) for p in uploads.rglob("*"))
