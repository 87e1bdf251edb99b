"""Benchmark tdacnn.data against torchvision.datasets: reading MNIST and downloading a file.

1. **Reading the 60,000 MNIST training images** from a copy of the real data
   (``$TDACNN_SHARED_DATA`` or ../shared/data; never read by torchvision in place: it
   writes there): tdacnn from the official ``.gz`` files (MD5 checked) and from
   unzipped files; torchvision's ``MNIST`` the first time (it unzips the ``.gz``
   files, which a read-only folder refuses) and after.  Baseline: torchvision after unzipping.
2. **Downloading** a random file of ``--mib`` MiB from a loopback HTTP server with
   an MD5 check: ``tdacnn.data.download.download_url`` against
   ``torchvision.datasets.utils.download_url`` (baseline).

    python benchmarks/data.py [--json] [--repeats 3] [--mib 64]

The machine is shared: timings are noisy; compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("TDACNN_SHARED_DATA", REPO.parent / "shared" / "data"))


def best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_reading(tmp: Path, repeats: int) -> dict:
    from torchvision.datasets import MNIST

    from tdacnn.data.mnist import load_mnist

    root = tmp / "data"
    shutil.copytree(SHARED / "MNIST", root / "MNIST")
    raw = root / "MNIST" / "raw"
    unzipped = [raw / p.stem for p in raw.glob("*.gz")]

    def tv_first():
        for p in unzipped:
            p.unlink(missing_ok=True)
        MNIST(root, train=True, download=True)  # finds the .gz files: unzips, no network

    out = {"tdacnn_gz_s": best(lambda: load_mnist(root, True), repeats),
           "torchvision_first_s": best(tv_first, repeats),
           "torchvision_s": best(lambda: MNIST(root, train=True), repeats),
           "tdacnn_unzipped_s": best(lambda: load_mnist(root, True), repeats)}
    out["ratios_to_torchvision"] = {k: out[k] / out["torchvision_s"] for k in list(out) if k != "torchvision_s"}
    return out


def bench_download(tmp: Path, repeats: int, mib: int) -> dict:
    from torchvision.datasets.utils import download_url as tv_download

    from tdacnn.data.download import download_url

    www = tmp / "www"
    www.mkdir()
    data = os.urandom(mib << 20)
    (www / "file.bin").write_bytes(data)
    md5 = hashlib.md5(data).hexdigest()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/file.bin"
    try:
        def ours():
            download_url(url, tmp / "ours" / "file.bin", md5=md5, progress=lambda p: None)

        def theirs():
            shutil.rmtree(tmp / "theirs", ignore_errors=True)  # else it finds the file and skips
            with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
                tv_download(url, str(tmp / "theirs"), "file.bin", md5=md5)

        out = {"mib": mib, "tdacnn_s": best(ours, repeats), "torchvision_s": best(theirs, repeats)}
    finally:
        server.shutdown()
        server.server_close()
    out["ratio_tdacnn_to_torchvision"] = out["tdacnn_s"] / out["torchvision_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mib", type=int, default=64, help="size of the downloaded file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"reading_mnist_train": bench_reading(Path(tmp), args.repeats),
                  "download": bench_download(Path(tmp), args.repeats, args.mib)}
    if args.json:
        print(json.dumps(result))
        return
    r, d = result["reading_mnist_train"], result["download"]
    ratio = r["ratios_to_torchvision"]
    print(f"MNIST train, tdacnn from .gz   {r['tdacnn_gz_s']:.3f} s  ({ratio['tdacnn_gz_s']:.1f}x)")
    print(f"MNIST train, tdacnn unzipped   {r['tdacnn_unzipped_s']:.3f} s  "
          f"({ratio['tdacnn_unzipped_s']:.1f}x)")
    print(f"MNIST train, torchvision first {r['torchvision_first_s']:.3f} s  "
          f"({ratio['torchvision_first_s']:.1f}x, unzips into raw/)")
    print(f"MNIST train, torchvision       {r['torchvision_s']:.3f} s  (baseline)")
    print(f"download {d['mib']} MiB, tdacnn {d['tdacnn_s']:.3f} s, torchvision {d['torchvision_s']:.3f} s "
          f"({d['ratio_tdacnn_to_torchvision']:.2f}x)")


if __name__ == "__main__":
    main()
