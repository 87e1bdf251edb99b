"""The one results store: where every computed analysis result is kept, by every process.

:func:`results_store` is the only way tdacnn opens it: a ``diskcache.Cache``
under ``<data directory>/cache/results``, shared by the web server, job
workers and the command line.  It is a *cache*: every value in it can be
computed again from its inputs, so it has one eviction policy —
least recently used, once the store passes ``TDACNN_CACHE_MB`` (default
2048) megabytes — and nothing that cannot be recomputed (runs, uploads, job
records) is ever kept in it.

Every key carries :data:`CACHE_VERSION`, the versions of the code that produced
the values (the package, the Mapper construction, the data-driven defaults and
the significance rule of barcodes): when one of them changes, results made by
the old code are never served again (they age out under the eviction policy).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from tdacnn import __version__, config
from tdacnn.errors import UserError
from tdacnn.topology.defaults import DEFAULTS_VERSION
from tdacnn.topology.mapper import MAPPER_VERSION
from tdacnn.topology.persistence import SIGNIFICANCE_VERSION

__all__ = ["results_store", "VersionedStore", "CACHE_VERSION", "cache_limit_bytes", "EVICTION_POLICY"]

#: The versions of the code behind every cached value (part of every key).
CACHE_VERSION = f"{__version__}/mapper{MAPPER_VERSION}/defaults{DEFAULTS_VERSION}/significance{SIGNIFICANCE_VERSION}"
#: diskcache's name for the one eviction policy.
EVICTION_POLICY = "least-recently-used"
_DEFAULT_MB = 2048

_lock = threading.Lock()
_stores: dict[tuple[str, int], VersionedStore] = {}


def cache_limit_bytes() -> int:
    """``$TDACNN_CACHE_MB`` (default 2048) in bytes; a sentence when it is not a positive whole number."""
    text = os.environ.get("TDACNN_CACHE_MB", "").strip()
    if not text:
        return _DEFAULT_MB * 2**20
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"TDACNN_CACHE_MB must be a whole number of megabytes (at least 1); got {text[:20]!r}")
    return int(text) * 2**20


class VersionedStore(MutableMapping):
    """A mapping over a diskcache whose every key is prefixed with :data:`CACHE_VERSION`.

    Parameters
    ----------
    cache : diskcache.Cache
    version : str
        The prefix (default :data:`CACHE_VERSION`).
    """

    def __init__(self, cache: Any, version: str = CACHE_VERSION) -> None:
        self.cache = cache
        self.version = version
        self._prefix = f"{version}|"

    @property
    def path(self) -> Path:
        return Path(self.cache.directory)

    def _key(self, key: str) -> str:
        return self._prefix + key

    def __getitem__(self, key: str) -> Any:
        return self.cache[self._key(key)]

    def __setitem__(self, key: str, value: Any) -> None:
        self.cache[self._key(key)] = value

    def __delitem__(self, key: str) -> None:
        del self.cache[self._key(key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) in self.cache

    def get(self, key: str, default: Any = None) -> Any:
        return self.cache.get(self._key(key), default)

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        return (k[n:] for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def close(self) -> None:
        self.cache.close()


def results_store(path: str | Path | None = None) -> VersionedStore:
    """The results store of the data directory (one handle per process and folder).

    Parameters
    ----------
    path : path, optional
        Default ``cache_dir()/"results"``.
    """
    import diskcache

    folder = Path(path) if path is not None else config.cache_dir() / "results"
    key = (str(folder.resolve()), os.getpid())  # a forked child opens its own handle
    with _lock:
        store = _stores.get(key)
        if store is None:
            folder.mkdir(parents=True, exist_ok=True)
            cache = diskcache.Cache(str(folder), size_limit=cache_limit_bytes(), eviction_policy=EVICTION_POLICY,
                                    timeout=30)
            # the settings are stored in the cache itself: a folder made by an older tdacnn with other
            # settings is brought to these (one policy for every process that opens it)
            cache.reset("size_limit", cache_limit_bytes())
            cache.reset("eviction_policy", EVICTION_POLICY)
            store = _stores[key] = VersionedStore(cache)
        return store


def forget_stores() -> None:
    """Close every handle this process opened (tests; a new data directory)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
