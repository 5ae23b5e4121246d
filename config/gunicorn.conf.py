"""gunicorn, the production app server: `.venv/bin/gunicorn -c config/gunicorn.conf.py`.

Every setting comes from the environment (GUNICORN_*), with defaults that suit one machine
behind a TLS-terminating, buffering proxy such as nginx. docs/deploy.md explains each choice.
"""

import os
import sys
from pathlib import Path

# gunicorn runs this file as a script: make the project importable wherever it is started.
BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from gunicorn.glogging import Logger  # noqa: E402

from config.env import env_int, env_list, env_str  # noqa: E402
from config.logs import RedactPatientTokens, redact  # noqa: E402


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours a container's or taskset's CPU set
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


wsgi_app = "config.wsgi:application"
chdir = str(BASE_DIR)
proc_name = "consent"

# Behind a proxy on the same machine by default; in a container use 0.0.0.0:8000. Several
# addresses (comma-separated) and unix:/path/to.sock work too.
bind = env_list("GUNICORN_BIND", ["127.0.0.1:8000"])

# Sync workers, one per usable CPU (at least two, so that one slow request never stalls
# everyone): signing renders and seals a PDF, which is CPU work, and on 2 cores 2 sync workers
# served the most pages per second. GUNICORN_THREADS above 1 switches to threaded workers
# (gthread), which only pays when requests wait on something slow, such as a remote database.
workers = env_int("GUNICORN_WORKERS", max(2, _usable_cpus()))
threads = env_int("GUNICORN_THREADS", 1)

# A request that takes longer than this is killed and its worker replaced; the slowest real
# request (signing: render + seal + store) takes well under a second.
timeout = env_int("GUNICORN_TIMEOUT", 30)
# On restart (HUP, TERM), workers finish the requests they have for up to this long.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)  # seconds; used by threaded workers only
# Replace each worker after about this many requests (spread by 10% so that they do not all
# restart together): a guard against slow memory growth in the PDF stack. 0 turns it off.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10

# Load the app once, in the master, before forking: config/wsgi.py imports pyHanko, loads the
# sealing key and parses the PDF stylesheet (consent.documents.warm_up), so every worker
# (including those started by max_requests) is warm from its first request and shares those
# pages of memory. The cost: HUP restarts workers with the code already loaded, so a new
# release needs a restart of the master (systemctl restart, or USR2 for no downtime).
preload_app = True

# The heartbeat file of each worker: on tmpfs where there is one, as a full or slow disk must
# not make gunicorn think its workers hang.
_TMPFS = "/dev/shm"  # noqa: S108 - gunicorn makes its files there with mkstemp and unlinks them
if os.path.isdir(_TMPFS):
    worker_tmp_dir = _TMPFS

# No runtime control socket (gunicornc): its default path is one per user, so two servers on
# one machine would fight over it; signals (HUP, TERM, TTIN/TTOU) do the same job.
control_socket_disable = True

# "-" is standard output (access) and standard error (errors), for journald or a container.
accesslog = env_str("GUNICORN_ACCESS_LOG", "-")
errorlog = env_str("GUNICORN_ERROR_LOG", "-")
loglevel = env_str("GUNICORN_LOG_LEVEL", "info")
# The combined log format plus the time taken; patient tokens are blanked (RedactingLogger).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

_REDACT = RedactPatientTokens()


class RedactingLogger(Logger):
    """gunicorn's logger with patients' link tokens blanked: in every access-log field (the
    request line, path, query string, Referer, any header or environment value a custom format
    may use) and in the error log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}

    def setup(self, cfg):
        super().setup(cfg)
        if _REDACT not in self.error_log.filters:
            self.error_log.addFilter(_REDACT)


logger_class = RedactingLogger


def pre_fork(server, worker):
    """No database connection may be shared between processes: close any the master holds."""
    from django.db import connections

    connections.close_all()


def post_worker_init(worker):
    """Say in the log that this worker is warm before it takes its first request."""
    from consent.documents import PYHANKO_MODULES

    missing = [name for name in PYHANKO_MODULES if name not in sys.modules]
    if missing:
        worker.log.warning("Worker %s starts cold: %s not loaded", worker.pid, ", ".join(missing))
    else:
        worker.log.info(
            "Worker %s is warm: pyHanko was loaded before its first request", worker.pid
        )
