"""One-off requests that check a server serves the right bytes before it is loaded.

A benchmark of a server answering 404s (or the wrong file) would be
meaningless, so every scenario first fetches its target once and compares
the body with the file on disk.
"""

from __future__ import annotations

import gzip
import http.client
import re

from .load import Target


class ProbeError(RuntimeError):
    pass


def fetch(port: int, target: Target, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    hdrs = dict(headers or {})
    if target.host:
        hdrs["Host"] = target.host
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", target.path, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    except (OSError, http.client.HTTPException) as e:
        raise ProbeError(f"GET {target.path} (Host {target.host}) on port {port}: {e}") from None
    finally:
        conn.close()


def check_file(port: int, target: Target, expected: bytes, gzip_wanted: bool = False) -> bool:
    """Raises ProbeError unless the body equals `expected`; returns whether it came gzipped."""
    headers = {"Accept-Encoding": "gzip"} if gzip_wanted else {}
    status, hdrs, body = fetch(port, target, headers)
    if status != 200:
        raise ProbeError(f"GET {target.path} (Host {target.host}): status {status}, body {body[:200]!r}")
    gzipped = hdrs.get("content-encoding", "").lower() == "gzip"
    if gzipped:
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as e:
            raise ProbeError(f"GET {target.path}: Content-Encoding gzip but the body does not inflate: {e}") from None
    if body != expected:
        raise ProbeError(
            f"GET {target.path} (Host {target.host}): body differs from the file "
            f"({len(body)} bytes, expected {len(expected)})"
        )
    return gzipped


COUNT_RE = re.compile(rb"<h1>Count: (\d+)</h1>")


def check_body(port: int, target: Target, expected: str) -> None:
    """One request: status 200 and exactly `expected` as the body."""
    status, _, body = fetch(port, target)
    if status != 200 or body.decode(errors="replace") != expected:
        raise ProbeError(f"{target.path} (Host {target.host}): status {status}, body {body[:200]!r}")


def check_counter(port: int, target: Target) -> None:
    """Two requests: both must show a count, the second one higher."""
    counts = []
    for _ in range(2):
        status, _, body = fetch(port, target)
        m = COUNT_RE.search(body)
        if status != 200 or not m:
            raise ProbeError(f"counter at {target.path} (Host {target.host}): status {status}, body {body[:200]!r}")
        counts.append(int(m.group(1)))
    if counts[1] <= counts[0]:
        raise ProbeError(f"counter at {target.path} (Host {target.host}) did not increase: {counts}")
