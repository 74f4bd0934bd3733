"""Turns the results dict into `latest.md` (tables, goals) and `latest.svg` (chart).

Ratios are always fazt's figure divided by the peer's, so for req/s and MiB/s
a ratio above 1 means fazt is faster, and for RSS and size a ratio below 1
means fazt is smaller.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from . import scenarios

MiB = 1024 * 1024
LOW_CPU = 85.0  # server CPU % under which a run was probably limited by the client
BUSY_OTHER = 10.0  # % of the server's core taken by other processes that spoils a run
CLIENT_SATURATED = 95.0  # wrk's CPU % at which the client, not the server, is the limit


def _get(results: dict, scenario: str, server: str, key: str):
    row = results["scenarios"].get(scenario, {}).get(server)
    if not row or "error" in row:
        return None
    return row.get(key)


def _per_core(row: dict | None) -> float | None:
    """req/s per second of server CPU: efficiency, much less sensitive to a busy machine."""
    if not row or "error" in row or not row.get("server_cpu_pct"):
        return None
    return row["rps"] * 100 / row["server_cpu_pct"]


def _mib(kb) -> str:
    return "—" if kb is None else f"{kb / 1024:.1f}"


def _num(x, digits=0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _ratio(a, b, digits=2) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{digits}f}×"


# ---------------------------------------------------------------- goals


@dataclass
class Goal:
    text: str
    measure: Callable[[dict], tuple[float | None, str]]  # (value, shown text); None value: not measured
    ok: Callable[[float], bool]


def _speedup(scenario: str, peer: str, extra_check: Callable[[dict], str | None] | None = None):
    def measure(r: dict):
        f, p = _get(r, scenario, "fazt", "rps"), _get(r, scenario, peer, "rps")
        if f is None or p is None:
            return None, "not measured"
        if extra_check:
            problem = extra_check(r)
            if problem:
                return 0.0, problem
        text = f"{f / p:.2f}× ({f:,.0f} vs {p:,.0f} req/s)"
        fc = _per_core(r["scenarios"][scenario].get("fazt"))
        pc = _per_core(r["scenarios"][scenario].get(peer))
        if fc and pc:
            text += f"; per core-second {fc / pc:.2f}×"
        return f / p, text

    return measure


def _fazt_gzipped(r: dict) -> str | None:
    return None if _get(r, "gzip", "fazt", "gzipped") else "fazt did not answer with gzip"


def _big_rise(r: dict):
    v = _get(r, "big", "fazt", "rise_per_conn_kb")
    return (
        (None, "not measured")
        if v is None
        else (v / 1024, f"{v / 1024:.2f} MiB per download ({scenarios.BIG_CONNS} concurrent)")
    )


def _idle_conns(r: dict):
    row = r["scenarios"].get("idle_conns", {}).get("fazt")
    if not row or "error" in row:
        return None, "not measured"
    if row["held"] < row["connections"]:
        return 1e9, f"only {row['held']} of {row['connections']} connections were served"
    return row["rss_kb"] / 1024, f"{row['rss_kb'] / 1024:.1f} MiB RSS with {row['held']} connections held"


def _ws_idle(r: dict):
    row = r["scenarios"].get("websocket", {}).get("fazt")
    if not row or "error" in row:
        return None, "not measured"
    if row["idle_clients"] < scenarios.WS_IDLE:
        return 1e9, f"only {row['idle_clients']} of {scenarios.WS_IDLE} WebSocket clients connected"
    return row["rss_idle_kb"] / 1024, f"{row['rss_idle_kb'] / 1024:.1f} MiB RSS with {row['idle_clients']} clients"


def _idle_rss(r: dict):
    v = r["servers"].get("fazt", {}).get("idle_rss_kb")
    return (None, "not measured") if v is None else (v / 1024, f"{v / 1024:.2f} MiB")


def _binary(r: dict):
    v = r["servers"].get("fazt", {}).get("binary_bytes")
    return (None, "not measured") if v is None else (v / MiB, f"{v / MiB:.2f} MiB ({v:,} bytes)")


GOALS = [
    Goal("Small file ≥ 1.5× nginx", _speedup("small", "nginx"), lambda v: v >= 1.5),
    Goal("Small file ≥ 2× static-web-server", _speedup("small", "static-web-server"), lambda v: v >= 2.0),
    Goal("Small file ≥ 70% of may_minihttp hello-world", _speedup("small", "minihttp-hello"), lambda v: v >= 0.7),
    Goal("gzip ≥ 2× nginx `gzip on`", _speedup("gzip", "nginx", _fazt_gzipped), lambda v: v >= 2.0),
    Goal("10 MiB file: RSS rise < 2 MiB per concurrent download", _big_rise, lambda v: v < 2.0),
    Goal("1,000 idle keep-alive connections < 20 MiB RSS", _idle_conns, lambda v: v < 20.0),
    Goal("Counter ≥ 3× PocketBase JS hook", _speedup("counter", "pocketbase"), lambda v: v >= 3.0),
    Goal("Pure-compute script ≥ 10× the baseline fazt", _speedup("pure", "fazt-baseline"), lambda v: v >= 10.0),
    Goal("1,000 idle WebSocket clients < 24 MiB RSS", _ws_idle, lambda v: v < 24.0),
    Goal("Idle RSS ≤ 4 MiB", _idle_rss, lambda v: v <= 4.0),
    Goal("Binary ≤ 4 MiB", _binary, lambda v: v <= 4.0),
]


def goal_rows(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    for g in GOALS:
        value, shown = g.measure(results)
        status = "n/a" if value is None else ("**met**" if g.ok(value) else "**not met**")
        rows.append((g.text, shown, status))
    return rows


# ---------------------------------------------------------------- markdown


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _servers_in(results: dict, scenario: str) -> list[str]:
    order = list(results["servers"])
    return [s for s in order if s in results["scenarios"].get(scenario, {})]


def _contended(row: dict) -> float:
    """How much other processes took from this run (% of a core), or 0 if it did not matter.

    Others running on the server's core slow it down; others on wrk's core
    matter only if the server was then not kept busy. Neither matters when
    wrk itself was saturated: the server was waiting on the client anyway
    and others merely used its idle time.
    """
    if (row.get("client_cpu_pct") or 0) >= CLIENT_SATURATED:
        return 0.0
    other = row.get("other_on_server_core_pct") or 0
    if (row.get("server_cpu_pct") or 100) < LOW_CPU:
        other = max(other, row.get("other_on_client_core_pct") or 0)
    return other if other > BUSY_OTHER else 0.0


def _cpu(row: dict) -> str:
    cpu = row.get("server_cpu_pct")
    if cpu is None:
        return "—"
    marks = []
    if cpu < LOW_CPU:
        marks.append("¹")
    if _contended(row):
        marks.append("²")
    if (row.get("client_cpu_pct") or 0) >= CLIENT_SATURATED:
        marks.append("³")
    return f"{cpu:.0f}%" + (" " + ",".join(marks) if marks else "")


def _busy_runs(results: dict) -> list[str]:
    """'scenario/server (%)' of every run that other processes slowed down (see `_contended`)."""
    out = []
    for scenario, rows in results["scenarios"].items():
        for name, row in rows.items():
            other = _contended(row)
            if other:
                out.append(f"{scenario}/{name} ({other:.0f}%)")
    return out


def _load_table(results: dict, scenario: str, extra: list[tuple[str, Callable[[dict], str]]], ratio_key="rps") -> str:
    head = (
        ["server"]
        + [h for h, _ in extra]
        + [
            "req/s",
            "p50 ms",
            "p99 ms",
            "server CPU",
            "req/s per core",
            "peak RSS MiB",
            f"fazt/peer ({ratio_key.replace('mib_s', 'MiB/s')})",
            "fazt/peer (per core)",
        ]
    )
    fazt_v = _get(results, scenario, "fazt", ratio_key)
    fazt_pc = _per_core(results["scenarios"].get(scenario, {}).get("fazt"))
    rows = []
    for name in _servers_in(results, scenario):
        row = results["scenarios"][scenario][name]
        if "error" in row:
            rows.append([name] + ["—"] * (len(head) - 3) + [f"error: {row['error']}", "—"])
            continue
        errs = f" ({row['errors']:,} errors)" if row.get("errors") else ""
        # With no completed response wrk's latency figures are zeros, not measurements.
        done = row["requests"] > 0
        rows.append(
            [name]
            + [fn(row) for _, fn in extra]
            + [
                (_num(row["rps"]) if done else "0 (no response completed)") + errs,
                _num(row["p50_ms"], 2) if done else "—",
                _num(row["p99_ms"], 2) if done else "—",
                _cpu(row),
                _num(_per_core(row)) if done else "—",
                _mib(row["rss_peak_kb"]),
                "—" if name == "fazt" else _ratio(fazt_v, row.get(ratio_key)),
                "—" if name == "fazt" or not done else _ratio(fazt_pc, _per_core(row)),
            ]
        )
    return _table(head, rows)


def markdown(results: dict, chart_name: str = "latest.svg") -> str:
    m = results["machine"]
    w = results["wrk"]
    quick = results["mode"] == "quick"
    out = [f"# fazt benchmark ({'quick: small file' if quick else 'full'}) — {results['started']}\n\n"]
    out.append(
        "Generated by `bench/run.sh`"
        + (" --quick" if quick else "")
        + "; see `bench/README.md` for how to read it.\n\n"
    )
    out.append("## Machine\n\n")
    out.append(
        _table(
            ["", ""],
            [
                ["CPU", f"{m['cpu']} ({m['arch']})"],
                ["cores", str(m["cores"])],
                ["memory", f"{m['mem_mib']:,} MiB"],
                ["OS / kernel", f"{m['os']} / {m['kernel']}"],
                [
                    "load average (1/5/15 min) at start → end",
                    f"{results['loadavg_start']} → {results.get('loadavg_end', '?')}",
                ],
                ["pinning", results["pinning"]],
                [
                    "load generator",
                    f"{m['wrk']}, 1 thread, {w['warmup_s']} s warm-up + {w['runs']} × {w['duration_s']} s (median kept), loopback only",
                ],
            ],
        )
    )
    out.append("\n## Servers\n\n")
    rows = []
    for name, s in results["servers"].items():
        rows.append(
            [
                name,
                s.get("version", "—"),
                f"{s['binary_bytes'] / MiB:.2f}" if "binary_bytes" in s else "—",
                s.get("linkage", "—"),
                _mib(s.get("idle_rss_kb")),
                "; ".join(s.get("notes", [])) + (f" **{s['error']}**" if "error" in s else ""),
            ]
        )
    out.append(_table(["server", "version", "binary MiB", "linkage", "idle RSS MiB", "notes"], rows))
    busy = _busy_runs(results)
    if busy:
        out.append(
            "\n> **Warning: the machine was busy during this run** — other processes took CPU time on the "
            "server's or the load generator's core in "
            f"{len(busy)} measurement(s): {', '.join(busy)}. Re-run on an idle machine before trusting "
            "the absolute figures; ratios measured under the same contention are still indicative at best.\n"
        )
    goals = [list(r) for r in goal_rows(results)]
    if quick:  # only the goals this mode measures
        goals = [g for g in goals if g[2] != "n/a"]
    if goals:
        out.append("\n## Goals (fazt)\n\n")
        out.append(_table(["goal", "measured", "status"], goals))
    out.append(f"\n![chart]({chart_name})\n")

    out.append(f"\n## 1. Small file (1 KiB HTML), keep-alive, {scenarios.SMALL_CONNS} connections\n\n")
    out.append(_load_table(results, "small", []))
    if not quick:
        out.append(f"\n## 2. 50 KiB text with `Accept-Encoding: gzip`, {scenarios.GZIP_CONNS} connections\n\n")
        out.append(
            _load_table(
                results,
                "gzip",
                [
                    ("gzip?", lambda r: "yes" if r.get("gzipped") else "**no**"),
                    ("MiB/s sent", lambda r: _num(r["mib_s"], 1)),
                ],
            )
        )
        out.append(f"\n## 3. 10 MiB file, {scenarios.BIG_CONNS} concurrent downloads\n\n")
        out.append(
            _load_table(
                results,
                "big",
                [
                    ("MiB/s", lambda r: _num(r["mib_s"], 0)),
                    ("RSS before MiB", lambda r: _mib(r["rss_before_kb"])),
                    ("RSS rise per download MiB", lambda r: f"{r['rise_per_conn_kb'] / 1024:.2f}"),
                ],
                ratio_key="mib_s",
            )
        )
        out.append(f"\n## 4. {scenarios.IDLE_CONNS:,} idle keep-alive connections (one request each, then held)\n\n")
        fz = results["scenarios"].get("idle_conns", {}).get("fazt", {})
        rows = []
        for name in _servers_in(results, "idle_conns"):
            r = results["scenarios"]["idle_conns"][name]
            if "error" in r:
                rows.append([name, "—", "—", "—", "—", "—", f"error: {r['error']}"])
                continue
            rows.append(
                [
                    name,
                    f"{r['held']:,}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
                    str(r["server_sockets"]),
                    _mib(r["rss_before_kb"]),
                    _mib(r["rss_kb"]),
                    f"{r['rise_per_conn_kb']:.1f}",
                    "—" if name == "fazt" else _ratio(fz.get("rss_kb"), r["rss_kb"]),
                ]
            )
        out.append(
            _table(
                [
                    "server",
                    "served + held",
                    "server sockets",
                    "RSS before MiB",
                    "RSS held MiB",
                    "KiB per conn",
                    "fazt/peer (RSS)",
                ],
                rows,
            )
        )
        out.append(
            f"\n## 5. Function: Counter (KV read + write per request) vs PocketBase JS hook, {scenarios.COUNTER_CONNS} connections\n\n"
        )
        out.append(_load_table(results, "counter", []))
        ws = results["scenarios"].get("websocket", {}).get("fazt")
        out.append("\n## 5b. WebSocket `/ws` on the Counter's site (fazt only)\n\n")
        if not ws:
            out.append("Not run.\n")
        elif "error" in ws:
            out.append(f"Failed: {ws['error']}\n")
        else:
            out.append(
                _table(
                    ["idle clients", "RSS before → with them", "per client", f"fan-out to {ws['fanout']} p50 / p99", "messages/s in (deliveries/s)"],
                    [[
                        f"{ws['idle_clients']} ({ws['idle_failed']} failed)",
                        f"{_mib(ws['rss_before_kb'])} → {_mib(ws['rss_idle_kb'])}",
                        f"{ws['rise_per_client_kb']:.1f} KiB",
                        f"{ws['fanout_ms_p50']} / {ws['fanout_ms_p99']} ms",
                        f"{ws['messages_per_s']:,} ({ws['deliveries_per_s']:,})",
                    ]],
                )
            )
        out.append(
            f"\n## 5c. Function: pure-compute script (no KV) vs the baseline fazt, {scenarios.PURE_CONNS} connections\n\n"
        )
        if "fazt-baseline" not in results["servers"]:
            out.append("No baseline binary was given (`--fazt-baseline-bin`).\n\n")
        out.append(_load_table(results, "pure", []))
        out.append("\n## 6. Deploy: 1,000-file, 20 MiB site (fazt only)\n\n")
        d = results.get("deploy")
        if not d:
            out.append("Not run (no fazt binary).\n")
        elif "error" in d:
            out.append(f"Failed: {d['error']}\n")
        else:
            out.append(
                _table(
                    [
                        "files",
                        "site MiB",
                        "zip MiB",
                        "seconds (curl)",
                        "peak RSS (VmHWM) MiB",
                        "RSS after MiB",
                        "idle RSS before MiB",
                        "fazt.db MiB",
                    ],
                    [
                        [
                            f"{d['files']:,}",
                            f"{d['bytes'] / MiB:.1f}",
                            f"{d['zip_bytes'] / MiB:.1f}",
                            f"{d['seconds']:.2f}",
                            _mib(d["hwm_kb"]),
                            _mib(d["rss_after_kb"]),
                            _mib(d["idle_kb"]),
                            f"{d['db_bytes'] / MiB:.1f}",
                        ]
                    ],
                )
            )
    out.append("\n## 7. Idle RSS after start, and binary size\n\n")
    fz = results["servers"].get("fazt", {})
    rows = []
    for name, s in results["servers"].items():
        rows.append(
            [
                name,
                _mib(s.get("idle_rss_kb")),
                f"{s['binary_bytes'] / MiB:.2f}" if "binary_bytes" in s else "—",
                "—" if name == "fazt" else _ratio(fz.get("idle_rss_kb"), s.get("idle_rss_kb")),
                "—" if name == "fazt" else _ratio(fz.get("binary_bytes"), s.get("binary_bytes")),
            ]
        )
    out.append(_table(["server", "idle RSS MiB", "binary MiB", "fazt/peer (RSS)", "fazt/peer (binary)"], rows))
    out.append(
        f"\n¹ server CPU under {LOW_CPU:.0f}% of its one core: that run was limited by something other "
        "than the server's CPU (the load generator, I/O, locks, or other processes).  \n"
        f"² other processes took more than {BUSY_OTHER:.0f}% of a core the run needed (the server's, or wrk's "
        "while the server was not kept busy): the machine was busy and the figure is low by an unknown amount.  \n"
        f"³ wrk used at least {CLIENT_SATURATED:.0f}% of its core: the client, not the server, set the pace.\n"
        "\n*req/s per core* is req/s divided by the share of its core the server used (server CPU): "
        "requests per CPU-second, a measure of efficiency that a busy machine or a slow client "
        "distorts much less than req/s. When the warning above is shown, compare these.\n"
        "\nnginx's binary is dynamically linked: its size excludes the shared libraries it loads. "
        "RSS is the sum over the server's process tree (nginx: master + worker).\n"
    )
    return "".join(out)


# ---------------------------------------------------------------- chart


def _short(v: float) -> str:
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 10:
        return f"{v:.0f}"
    return f"{v:.2f}"


@dataclass
class Panel:
    title: str
    values: dict[str, float]
    goal: float | None = None  # absolute goal for fazt, drawn as a dashed line
    flags: dict[str, str] | None = None  # server -> note appended to its bar label


def _panels(results: dict) -> list[Panel]:
    def collect(scenario: str, key: str, scale: float = 1.0) -> dict[str, float]:
        vals = {}
        for name in _servers_in(results, scenario):
            v = _get(results, scenario, name, key)
            if v is not None:
                vals[name] = v * scale
        return vals

    servers = results["servers"]
    panels = [Panel("1. small file 1 KiB: req/s", collect("small", "rps"))]
    if results["mode"] == "quick":
        panels.append(Panel("small file: peak RSS under load (MiB)", collect("small", "rss_peak_kb", 1 / 1024)))
    else:
        no_gzip = {n: "no gzip" for n in _servers_in(results, "gzip") if _get(results, "gzip", n, "gzipped") is False}
        panels += [
            Panel("2. gzip 50 KiB: req/s", collect("gzip", "rps"), flags=no_gzip),
            Panel("3. 10 MiB file: MiB/s", collect("big", "mib_s")),
            Panel("3. 10 MiB: RSS rise per download (MiB)", collect("big", "rise_per_conn_kb", 1 / 1024), goal=2.0),
            Panel("4. RSS with 1,000 idle conns (MiB)", collect("idle_conns", "rss_kb", 1 / 1024), goal=20.0),
            Panel("5. Counter vs PocketBase hook: req/s", collect("counter", "rps")),
        ]
    panels += [
        Panel(
            "7. idle RSS after start (MiB)",
            {n: s["idle_rss_kb"] / 1024 for n, s in servers.items() if "idle_rss_kb" in s},
            goal=4.0,
        ),
        Panel(
            "7. binary size (MiB)",
            {n: s["binary_bytes"] / MiB for n, s in servers.items() if "binary_bytes" in s},
            goal=4.0,
        ),
    ]
    return panels


def chart(results: dict, path) -> str | None:
    """Draws the chart (SVG, or PNG if `path` ends in .png); returns a note if it could not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        matplotlib.rcParams["svg.hashsalt"] = "fazt-bench"
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no chart"
    panels = _panels(results)
    cols = 2 if results["mode"] == "quick" else 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    flat = [a for row in axes for a in row]
    for ax, panel in zip(flat, panels):
        names = list(panel.values)
        bars = ax.barh(
            names, [panel.values[n] for n in names], color=["#d9480f" if n == "fazt" else "#868e96" for n in names]
        )
        flags = panel.flags or {}
        labels = [_short(panel.values[n]) + (f" ({flags[n]})" if n in flags else "") for n in names]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        if panel.goal is not None:
            ax.axvline(panel.goal, color="#2b8a3e", linestyle="--", linewidth=1)
            ax.text(
                panel.goal, 1.0, " goal", color="#2b8a3e", fontsize=7, va="bottom", transform=ax.get_xaxis_transform()
            )
        ax.set_title(panel.title, fontsize=9, pad=10)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
        ax.margins(x=0.3)
        if not names:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    m = results["machine"]
    fig.suptitle(
        f"fazt vs peers ({results['mode']}) — {m['cpu']}, {m['cores']} cores, {results['started'][:10]}; fazt in orange",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if str(path).endswith(".svg") else None)
    plt.close(fig)
    return None


def main(argv: list[str]) -> int:
    """`python -m harness.report results/latest.json`: rewrites the .md and .svg beside it."""
    import json
    from pathlib import Path

    if len(argv) != 1:
        print("usage: python -m harness.report RESULTS.json", file=sys.stderr)
        return 2
    src = Path(argv[0])
    results = json.loads(src.read_text())
    src.with_suffix(".md").write_text(markdown(results, chart_name=src.with_suffix(".svg").name))
    note = chart(results, src.with_suffix(".svg"))
    if note:
        print(note, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
