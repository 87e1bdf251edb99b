"""One BLAS thread per section, process-wide, with many threads entering and leaving at once."""

import importlib
import os
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from tdacnn.topology import blas
from tdacnn.topology.blas import one_blas_thread, open_sections

ORIGINAL = 3  # a limit no machine has by default, so "restored" cannot pass by chance


def _blas_threads() -> set[int]:
    """num_threads of every loaded BLAS library."""
    counts = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert counts, "numpy's BLAS should be loaded"
    return counts


@pytest.fixture
def known_limit(monkeypatch):
    monkeypatch.setattr(blas, "_pinned", False)  # an app built in this test process pinned it
    # load every BLAS the tests touch (numpy's, scipy's) before setting a known limit on all
    for module in ("scipy.linalg", "sklearn.cluster", "ripser"):
        importlib.import_module(module)

    with threadpool_limits(limits=ORIGINAL, user_api="blas"):
        assert _blas_threads() == {ORIGINAL}
        yield
    assert open_sections() == 0


def _overlapping_sections(section, n_threads: int = 6) -> list[str]:
    """Threads enter one after another, all are inside together, then leave one after another
    (first in, first out: with one plain ``threadpool_limits`` per thread the first to leave
    would restore the limit while the others are still inside).  Returns the problems seen."""
    problems: list[str] = []
    entered = [threading.Event() for _ in range(n_threads)]
    left = [threading.Event() for _ in range(n_threads)]

    def worker(i: int) -> None:
        try:
            if i:
                entered[i - 1].wait(30)
            with section():
                entered[i].set()
                entered[-1].wait(30)  # everyone is inside
                if i:
                    left[i - 1].wait(30)  # the ones before me have left
                seen = _blas_threads()
                if seen != {1}:
                    problems.append(f"thread {i} inside its section saw BLAS threads {seen}")
                a = np.random.default_rng(i).normal(size=(50, 50))
                if not np.allclose(a @ np.eye(50), a):
                    problems.append(f"thread {i}: wrong product")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"thread {i}: {exc!r}")
        finally:
            entered[i].set()
            left[i].set()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return problems


def test_limit_holds_while_any_section_is_open_and_is_restored_after_the_last(known_limit):
    assert _overlapping_sections(one_blas_thread) == []
    assert open_sections() == 0
    assert _blas_threads() == {ORIGINAL}


def test_many_threads_entering_and_leaving_at_random(known_limit):
    problems = []
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        start.wait(30)
        for _ in range(40):
            with one_blas_thread():
                if _blas_threads() != {1}:
                    problems.append(seed)
                rng.normal(size=(20, 20)) @ rng.normal(size=(20, 20))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert problems == []
    assert open_sections() == 0 and _blas_threads() == {ORIGINAL}


def test_nested_sections_and_exceptions(known_limit):
    with one_blas_thread():
        with one_blas_thread():
            assert open_sections() == 2 and _blas_threads() == {1}
        assert open_sections() == 1 and _blas_threads() == {1}
    assert _blas_threads() == {ORIGINAL}
    with pytest.raises(RuntimeError, match="boom"):
        with one_blas_thread():
            raise RuntimeError("boom")
    assert open_sections() == 0 and _blas_threads() == {ORIGINAL}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_fork_while_another_thread_is_inside(known_limit):
    inside, done = threading.Event(), threading.Event()

    def holder() -> None:
        with one_blas_thread():
            inside.set()
            done.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(30) and _blas_threads() == {1}
        # the forked child must not inherit an open section (or a held lock): its own section
        # sets the limit and restores it when it leaves
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                code |= 1 if open_sections() != 0 else 0
                code |= 2 if _blas_threads() != {ORIGINAL} else 0
                with one_blas_thread():
                    code |= 4 if _blas_threads() != {1} else 0
                code |= 8 if _blas_threads() != {ORIGINAL} else 0
            except BaseException:  # noqa: BLE001
                code |= 16
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
        assert _blas_threads() == {1}  # the parent's section is still open
    finally:
        done.set()
        t.join(30)
    assert _blas_threads() == {ORIGINAL}


def test_mapper_and_landmarks_run_inside_a_section(known_limit, monkeypatch):
    """Both users of BLAS-heavy small products go through the shared helper."""
    import tdacnn.topology.mapper as mapper
    import tdacnn.topology.persistence as persistence
    from tdacnn.topology.params import MapperParams, PersistenceParams

    seen = []
    real_cluster, real_landmarks = mapper.cluster_labels, persistence.maxmin_landmarks

    def cluster(*a, **k):
        seen.append(("cluster", open_sections(), _blas_threads()))
        return real_cluster(*a, **k)

    def landmarks(*a, **k):
        seen.append(("landmarks", open_sections(), _blas_threads()))
        return real_landmarks(*a, **k)

    monkeypatch.setattr(mapper, "cluster_labels", cluster)
    monkeypatch.setattr(persistence, "maxmin_landmarks", landmarks)
    x = np.random.default_rng(0).normal(size=(60, 3))
    mapper.mapper_graph(x, None, MapperParams(lens="pca1", n_cubes=3), (1, 3))
    persistence.barcode(x, PersistenceParams(n_perm=20), engine="ripser")
    assert {s[0] for s in seen} == {"cluster", "landmarks"}
    assert all(n == 1 and threads == {1} for _, n, threads in seen)
    assert open_sections() == 0 and _blas_threads() == {ORIGINAL}
    assert blas._limiter is None


def test_concurrent_graphs_and_barcodes_match_serial_ones(known_limit):
    """The app's situation: request threads building graphs and barcodes at once."""
    from tdacnn.topology.mapper import mapper_graph
    from tdacnn.topology.params import MapperParams, PersistenceParams
    from tdacnn.topology.persistence import barcode

    x = np.random.default_rng(1).normal(size=(400, 9))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cod = np.linspace(0.0, 1.0, len(x))  # no NaN node colours: the dicts compare equal
    params = [MapperParams(lens=lens, n_cubes=6, overlap=0.4, distance_cut=0.6) for lens in ("pca1", "pca2", "angle")]
    serial = [mapper_graph(x, cod, p, (3, 3)).to_dict() for p in params]
    bars = barcode(x, PersistenceParams(n_perm=60), engine="ripser").meta["landmarks"]
    results, problems = {}, []
    start = threading.Barrier(6)

    def worker(i: int) -> None:
        try:
            start.wait(30)
            for rep in range(3):
                results[i, rep] = (mapper_graph(x, cod, params[i % 3], (3, 3)).to_dict(),
                                   barcode(x, PersistenceParams(n_perm=60), engine="ripser").meta["landmarks"])
        except Exception as exc:  # noqa: BLE001
            problems.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert problems == [] and len(results) == 18
    for (i, _), (graph, landmarks) in results.items():
        assert graph == serial[i % 3] and landmarks == bars
    assert open_sections() == 0 and _blas_threads() == {ORIGINAL}


PINNED = """
import threading
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from tdacnn.topology.blas import one_blas_thread, pin_one_blas_thread

def counts():
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

threadpool_limits(limits=3, user_api="blas")
with one_blas_thread():
    pin_one_blas_thread()  # pinned while a section is open: its end must not restore 3
    assert counts() == {1}, counts()
assert counts() == {1}, counts()
changes = []
stop = threading.Event()

def watch():  # a thread that computes outside any section all along
    a = np.random.default_rng(0).normal(size=(200, 200))
    while not stop.is_set():
        a @ a
        if counts() != {1}:
            changes.append(counts())

def enter_and_leave():
    for _ in range(50):
        with one_blas_thread():
            pass

w = threading.Thread(target=watch)
w.start()
threads = [threading.Thread(target=enter_and_leave) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
stop.set()
w.join()
assert changes == [], changes
assert counts() == {1}, counts()
print("ok")
"""


def test_a_pinned_process_never_changes_its_blas_threads():
    """The web app pins one BLAS thread at start: sections entered and left by many threads, while another
    computes outside them, never change the thread count (changing it mid-call can crash OpenBLAS)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PINNED], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_app_pins_one_blas_thread():
    import subprocess
    import sys

    code = ("from tdacnn.app import create_app; create_app(warm=False)\n"
            "from threadpoolctl import threadpool_info\n"
            "print(sorted({l['num_threads'] for l in threadpool_info() if l['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TDACNN_LOCAL_WORKER": "0"})
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "[1]", out.stderr[-2000:]
