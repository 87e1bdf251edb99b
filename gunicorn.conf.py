"""gunicorn's settings for ``gunicorn app:server`` (read from the current folder; flags given on the command line win).

Binds 127.0.0.1 (``PORT``, default 8050) unless told otherwise (``--bind 0.0.0.0:8050`` to expose it
deliberately, behind TLS and ``TDACNN_AUTH`` on a shared network).  Threads, not many processes: a
callback waits on numpy and the results store (shared on disk), and each process keeps its own
in-memory caches.  The job worker is started by ``app.py`` when a gunicorn worker imports it (one per
data directory, however many gunicorn workers there are).
"""

import os

import gunicorn.http.wsgi

# no banner: every response's ``Server`` header says "tdacnn", as the development server's does
# (gunicorn reads this module attribute for each response; the workers are forked after this file runs)
gunicorn.http.wsgi.SERVER = "tdacnn"

bind = [f"127.0.0.1:{os.environ.get('PORT', '8050')}"]
workers = int(os.environ.get("TDACNN_WEB_PROCESSES", "2"))
worker_class = "gthread"
threads = int(os.environ.get("TDACNN_WEB_THREADS", "8"))
#: a first analysis of a big layer can take tens of seconds; an upload waits up to 120 s for its load job
timeout = 180
graceful_timeout = 10
#: small request lines and headers: the app's own are well under these
limit_request_line = 8190
limit_request_fields = 60
