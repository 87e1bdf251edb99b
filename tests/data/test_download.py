"""Downloads against a local HTTP server: mirrors, checksums, progress records, timeouts, unsafe archives."""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tdacnn.data import check_dataset, download, load_dataset
from tdacnn.data.download import download_url
from tdacnn.errors import UserError
from tdacnn.progress import Progress


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; ``/hang`` never answers until the test ends, ``/cut`` sends 10 of 1000 bytes."""

    def __init__(self, *args, server_state, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self.state["requests"].append(self.path)
        if self.path == "/hang":
            self.state["release"].wait()
            return
        if self.path == "/cut":  # promises more than it sends, then closes
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over ``tmp_path/www``: yields (base URL, folder, state)."""
    www = tmp_path / "www"
    www.mkdir()
    state = {"requests": [], "release": threading.Event()}
    handler = functools.partial(_Handler, directory=str(www), server_state=state)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", www, state
    finally:
        state["release"].set()
        httpd.shutdown()
        httpd.server_close()


def test_mnist_falls_back_to_the_next_mirror_and_reports_bytes(shared_data, server, tmp_path, monkeypatch):
    url, www, state = server
    for f in (shared_data / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(f, www / f.name)
    monkeypatch.setattr(download, "MNIST_MIRRORS", ("http://127.0.0.1:9/", url))  # the first refuses
    records: list[Progress] = []
    root = tmp_path / "data"
    check_dataset("mnist", root, download=True, progress=records.append)
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(p.name for p in www.iterdir())
    ends = [p for p in records if p.total and p.done == p.total]
    assert len(ends) == 4 and {p.unit for p in records} == {"B"}
    assert sorted(p.total for p in ends) == sorted(f.stat().st_size for f in www.iterdir())
    x, y = load_dataset("mnist", root, train=False)
    assert x.shape == (10000, 1, 28, 28) and y[:3].tolist() == [7, 2, 1]
    n = len(state["requests"])
    load_dataset("mnist", root, train=False, download=True)  # valid files: nothing fetched again
    assert len(state["requests"]) == n


def test_a_corrupt_download_is_refused_and_not_kept(server, tmp_path):
    url, www, _ = server
    (www / "file.bin").write_bytes(b"not what was promised")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(UserError, match="corrupt \\(checksum mismatch\\)"):
        download_url(url + "file.bin", dest, md5="0" * 32)
    with pytest.raises(UserError, match="corrupt"):
        download_url(url + "file.bin", dest, sha256_prefix="00000000")
    assert list(dest.parent.iterdir()) == []
    good = hashlib.sha256(b"not what was promised").hexdigest()[:8]
    assert download_url(url + "file.bin", dest, sha256_prefix=good).read_bytes() == b"not what was promised"


def test_a_server_that_never_answers_times_out_with_one_sentence(server, tmp_path):
    url, _, _ = server
    with pytest.raises(UserError, match=r"^could not download .*/hang \(.*\); check the internet connection"):
        download_url(url + "hang", tmp_path / "out" / "x", timeout=0.2)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_body_cut_short_is_refused_and_not_kept(server, tmp_path):
    url, _, _ = server
    with pytest.raises(UserError, match="was cut off after 10 of 1000 bytes"):
        download_url(url + "cut", tmp_path / "out" / "x")  # no checksum to catch it
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unwritable_data_root_is_one_sentence(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="^cannot download into .*a-file/MNIST/raw .*--data-root"):
        load_dataset("mnist", tmp_path / "a-file", download=True)


def test_missing_file_on_the_server_is_one_sentence(server, tmp_path):
    url, _, _ = server
    with pytest.raises(UserError, match=r"could not download .*nothing.gz \(HTTP Error 404"):
        download_url(url + "nothing.gz", tmp_path / "nothing.gz")


def _tar(path: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar10_archive_unpacked_by_base_name_only(shared_data, server, tmp_path, monkeypatch):
    url, www, _ = server
    src = shared_data / "cifar-10-batches-py"
    members = {f"cifar-10-batches-py/{n}": (src / n).read_bytes() for n in ("batches.meta", "test_batch")}
    members["cifar-10-batches-py/data_batch_1"] = (src / "test_batch").read_bytes()  # small stand-in
    members["cifar-10-batches-py/../../escaped"] = b"outside"  # a hostile path stays inside the folder
    md5 = _tar(www / "cifar.tar.gz", members)
    monkeypatch.setattr(download, "CIFAR10_URL", url + "cifar.tar.gz")
    monkeypatch.setattr(download, "CIFAR10_TAR_MD5", md5)
    root = tmp_path / "data"
    x, y = load_dataset("cifar10", root, train=False, download=True)
    assert x.shape == (1000, 3, 32, 32) and y[:3].tolist() == [3, 8, 8]
    assert sorted(p.name for p in root.rglob("*")) == sorted(
        ["cifar-10-python.tar.gz", "cifar-10-batches-py", "batches.meta", "test_batch", "data_batch_1", "escaped"])
    assert (root / "cifar-10-batches-py" / "escaped").is_file() and not (tmp_path / "escaped").exists()
    x2, _ = load_dataset("cifar10", root, train=True)
    assert np.array_equal(x, x2)


def test_one_downloader():
    """Every download in tdacnn (datasets, VGG16 weights) goes through ``download_url``."""
    package = Path(download.__file__).resolve().parents[1]
    callers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                     if any(s in p.read_text() for s in ("urlopen(", "download_url_to_file", "urlretrieve")))
    assert callers == ["data/download.py"]
