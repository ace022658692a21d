"""The machine the figures come from, the table, and the JSON."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import telegram

from benchmarks.figures import FIGURES, TARGETS
from benchmarks.harness import pg_connect

BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "process": "(no database)"}
#: Where runs are written (BENCHMARK_RESULTS: elsewhere, as the tests do, keeping the tree clean).
RESULTS = Path(os.environ.get("BENCHMARK_RESULTS") or Path(__file__).resolve().parent / "results")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


async def machine(pg_url: str | None) -> dict[str, Any]:
    """CPU, cores, memory, Python, python-telegram-bot and database versions."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "python_telegram_bot": telegram.__version__,
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    if pg_url:
        conn = await pg_connect(pg_url)
        try:
            info["postgresql"] = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
    return info


def machine_line(info: dict[str, Any]) -> str:
    parts = [
        f"{info['cpu']}, {info['cores']} cores",
        f"Python {info['python']}",
        f"python-telegram-bot {info['python_telegram_bot']}",
        f"SQLite {info['sqlite']}",
    ]
    if "postgresql" in info:
        parts.append(f"PostgreSQL {info['postgresql'].split()[0]}")
    parts.append(f"load {info['load_average'][0]}")
    return "; ".join(parts)


def cell(name: str, r: dict[str, Any] | None) -> str:
    """One figure on one database, as the table shows it."""
    if r is None:
        return "-"
    if name == "campaign" and "wait_s" in r:
        return campaign_cell(r) + {True: " ok", False: " MISSED", None: ""}[r.get("met")]
    if r.get("value") is None:
        return "not available" if r.get("available") is False else f"failed: {r.get('error')}"
    if name == "floor":
        text = f"{r['value']:,} upd/s"
    elif name == "full_path":
        text = f"{r['value']:.2f} x ({r['updates_per_s']:,} upd/s)"
    elif name == "latency":
        text = f"p50 {r['p50_ms']:.2f} / p99 {r['p99_ms']:.2f} ms"
    elif name == "memory":
        text = f"{r['value']:,} B/conv (RSS {r['rss_bytes_per_conversation']:,})"
    elif name == "scale":
        text = f"{r['value']:.2f}"
    elif name == "replay":
        text = f"{r['value']:.2f} s / {r['profiles']:,} profiles"
    elif name == "burst":
        text = f"{r['value']} s, {r['delivered']}/{r['handoffs']}, {r['flood_errors']} floods"
    elif name == "campaign":
        text = campaign_cell(r)
    else:
        text = str(r["value"])
    mark = {True: " ok", False: " MISSED", None: ""}[r.get("met")]
    return text + mark


def campaign_cell(r: dict[str, Any]) -> str:
    """Cap used while queued, p95 wait beside the ideal sender's, 429s, completed."""
    wait, ideal = r["wait_s"], r["ideal_wait_s"]
    cap = "-" if r["value"] is None else r["value"]
    return (
        f"{cap} % of cap, p95 {wait['p95']} s vs {ideal['p95']} s ideal "
        f"({r['p95_over_ideal']} x), {r['floods']} x 429, {r['completed']}/{r['patients']} done"
    )


def _rows(result: dict[str, Any]) -> list[list[str]]:
    """The header and one row per figure: name, a cell per database, target."""
    backends = [b for b in ("sqlite", "postgresql") if b in result["backends"]]
    rows = [["figure", *(BACKENDS[b] for b in backends), "target"]]
    for name in FIGURES:
        fig = result["figures"].get(name)
        if fig is None:
            continue
        res = fig["results"]
        if "process" in res:
            cells = [cell(name, res["process"])] + [""] * (len(backends) - 1)
        else:
            cells = [cell(name, res.get(b)) for b in backends]
        rows.append([name.replace("_", " "), *cells, TARGETS[name]])
    return rows


def _reasons(result: dict[str, Any]) -> list[str]:
    lines = []
    for name in FIGURES:
        reasons: dict[str, list[str]] = {}
        for backend, r in result["figures"].get(name, {}).get("results", {}).items():
            if r.get("reason"):
                reasons.setdefault(r["reason"], []).append(BACKENDS[backend])
        for reason, where in reasons.items():
            lines.append(f"{name.replace('_', ' ')} ({', '.join(where)}): {reason}")
    return lines


def table(result: dict[str, Any]) -> str:
    """The figures as a text table, with the machine."""
    rows = _rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"machine: {machine_line(result['machine'])}"]
    if result.get("skipped"):
        lines.append(f"skipped: {result['skipped']}")
    lines.extend(f"note: {note}" for note in result.get("notes", []))
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.extend(_reasons(result))
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The figures as the README shows them: when, where, and a Markdown table."""
    info = result["machine"]
    memory = f", {info['memory_gb']} GB" if "memory_gb" in info else ""
    lines = [
        f"Measured {result['when']} in {result.get('seconds', '?')} s on {machine_line(info)}"
        f"{memory}, {info['os']}.",
        "",
    ]
    rows = _rows(result)
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|" + "---|" * len(rows[0]))
    lines.extend("| " + " | ".join(c or " " for c in row) + " |" for row in rows[1:])
    extra = [*(f"note: {n}" for n in result.get("notes", [])), *_reasons(result)]
    if result.get("skipped"):
        extra.insert(0, f"skipped: {result['skipped']}")
    if extra:
        lines.append("")
        lines.extend(f"- {line}" for line in extra)
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    """``python -m benchmarks.report [JSON]``: print a run's figures as Markdown (the README's
    table); the latest run by default."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
