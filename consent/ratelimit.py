"""Rate limits per client address, counted in the database so that every process and every app
server shares one count.

Why a table and not a cache: a single atomic statement (INSERT ... ON CONFLICT DO UPDATE ...
RETURNING) counts a request and reads the new total, on SQLite (`make run`, no other service)
and on PostgreSQL alike, so the limit holds exactly however many requests race. Django's
database cache increments with a read then a write (not atomic), its local-memory cache is per
process, and django-ratelimit builds on those caches; Redis would be exact, but would be one
more service to run for two low-traffic pages. Each counted request costs one small write.

Fixed windows: at most `count` requests per key in each window of `seconds` (so at most twice
that across a window boundary). A row per key and scope; rows whose window ended are deleted
as new windows start.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .actors import client_network
from .models import RateLimitCounter


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends


_TABLE = RateLimitCounter._meta.db_table
_UPSERT = f"""
    INSERT INTO {_TABLE} (bucket, window_start, window_end, hits) VALUES (%s, %s, %s, 1)
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN {_TABLE}.window_start >= excluded.window_start
                    THEN {_TABLE}.hits + 1 ELSE 1 END,
        window_start = CASE WHEN {_TABLE}.window_start >= excluded.window_start
                            THEN {_TABLE}.window_start ELSE excluded.window_start END,
        window_end = CASE WHEN {_TABLE}.window_start >= excluded.window_start
                          THEN {_TABLE}.window_end ELSE excluded.window_end END
    RETURNING hits, window_end
"""  # noqa: S608 (the table name is ours; values are parameters)


def rate_limit_hit(*, scope: str, key: str, rate: tuple[int, int] | Rate) -> Hit:
    """Count one request of `key` (e.g. an address) in `scope`; allowed while within the rate.

    One statement, atomic on both databases: concurrent requests never share a count. A clock
    that lags behind another app server's counts in the newer window rather than resetting it.
    """
    rate = rate if isinstance(rate, Rate) else Rate(*rate)
    now = time.time()
    window_start = int(now // rate.seconds) * rate.seconds
    digest = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()  # no addresses stored
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [digest, window_start, window_start + rate.seconds])
        count, window_end = cursor.fetchone()
    if count == 1:  # a new window for this key: a good moment to drop windows that ended
        RateLimitCounter.objects.filter(window_end__lte=now).delete()
    return Hit(
        allowed=count <= rate.count,
        count=count,
        retry_after=max(1, math.ceil(window_end - now)),
    )


def too_many_requests(request: HttpRequest, hit: Hit) -> HttpResponse:
    response = render(
        request,
        "rate_limited.html",
        {"minutes": math.ceil(hit.retry_after / 60)},
        status=429,
    )
    response["Retry-After"] = str(hit.retry_after)
    return response


def limit_by_address(request: HttpRequest, *, scope: str, rate) -> HttpResponse | None:
    """The 429 response if this client address is over `rate` in `scope`, else None."""
    hit = rate_limit_hit(scope=scope, key=client_network(request) or "unknown", rate=rate)
    return None if hit.allowed else too_many_requests(request, hit)
