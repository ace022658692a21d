"""``python -m benchmarks`` (``make bench``): the figures of issues #8 and #19, as a table and JSON.

    python -m benchmarks [--smoke] [--only NAME[,NAME]] [--rounds N] [--updates N]
                         [--patients N] [--speed X] [--pg URL | --no-pg] [--json PATH]

Figures: floor, full_path, latency, memory, scale, replay, burst, campaign (see README,
Performance); ``--smoke`` leaves the campaign out unless ``--only`` names it.
Each runs on SQLite and, when the server answers, on PostgreSQL (``--pg``, else
TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test; throwaway databases
are created and dropped). The JSON goes to benchmarks/results/latest.json (smoke.json for
``--smoke``) and to ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import figures as f
from benchmarks.campaign import CampaignOptions, campaign
from benchmarks.harness import DEFAULT_PG, Databases, engine, pg_reachable, quiet_logging
from benchmarks.report import RESULTS, machine, stamp, table, write_json
from benchmarks.traffic import Traffic, script

LATEST = RESULTS / "latest.json"
SMOKE = RESULTS / "smoke.json"  # a smoke run (CI, tests) never replaces the latest real figures
MEASURED_TOGETHER = {"floor", "full_path", "latency"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny counts (CI): under 30 s")
    p.add_argument("--only", default="", help=f"comma-separated figures: {', '.join(f.FIGURES)}")
    p.add_argument("--rounds", type=int, help="rounds of floor/full path and of scale (5)")
    p.add_argument("--updates", type=int, help="updates per round and application (10,000)")
    p.add_argument("--concurrency", type=int, help="updates in progress at once (64)")
    p.add_argument("--memory-users", type=int, help="conversations for the memory figure")
    p.add_argument("--scale-large", type=int, help="stored conversations, large (100,000)")
    p.add_argument("--burst", type=int, help="handoffs for the burst figure (500)")
    p.add_argument("--patients", type=int, help="patients of the campaign (1,000)")
    p.add_argument("--speed", type=float, help="the campaign's time compression (3)")
    p.add_argument(
        "--pg",
        default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG),
        help="PostgreSQL server (SQLAlchemy URL); its figures are skipped when it does not answer",
    )
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument(
        "--db", choices=("sqlite", "postgresql"), help="one database only (default: both)"
    )
    p.add_argument("--json", type=Path, help="also write the JSON here")
    p.add_argument("--log-level", default="INFO", help="the bot's LOG_LEVEL while measuring")
    args = p.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = only - set(f.FIGURES)
    if unknown:
        p.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    args.figures = [x for x in f.FIGURES if x in only or (not only and not skipped(args, x))]
    return args


def skipped(args: argparse.Namespace, name: str) -> bool:
    """The campaign takes minutes: a smoke run has it only when ``--only`` names it."""
    return bool(args.smoke) and name == "campaign"


def campaign_options(args: argparse.Namespace) -> CampaignOptions:
    opts = CampaignOptions.smoke() if args.smoke else CampaignOptions()
    if args.patients is not None:
        opts.patients = args.patients
    if args.speed is not None:
        opts.speed = args.speed
    return opts


def options(args: argparse.Namespace) -> f.Options:
    opts = f.Options.smoke() if args.smoke else f.Options()
    for name in ("rounds", "updates", "concurrency", "memory_users", "scale_large", "burst"):
        value = getattr(args, name)
        if value is not None:
            setattr(opts, name, value)
    return opts


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    opts = options(args)
    backends = [] if args.db == "postgresql" else ["sqlite"]
    skipped = ""
    pg_url = None
    if not args.no_pg and args.db != "sqlite":
        why = await pg_reachable(args.pg)
        if why is None:
            backends.append("postgresql")
            pg_url = args.pg
        else:
            skipped = f"PostgreSQL ({why})"
    result: dict[str, Any] = {
        "when": stamp(),
        "machine": await machine(pg_url),
        "options": {**vars(opts), "smoke": args.smoke, "log_level": args.log_level},
        "campaign_options": vars(campaign_options(args)),
        "backends": backends,
        "skipped": skipped,
        "notes": [],
        "figures": {name: {"target": f.TARGETS[name], "results": {}} for name in args.figures},
    }
    figs = result["figures"]
    traffic = Traffic(script(engine()))
    for backend in backends:
        dbs = Databases(backend, args.pg)
        try:
            if MEASURED_TOGETHER & set(args.figures):
                progress(f"floor, full path and latency on {backend}")
                floor, full, latency = await f.throughput(dbs, opts, traffic)
                for name, value in (("floor", floor), ("full_path", full), ("latency", latency)):
                    if name in figs:
                        figs[name]["results"][backend] = value
            for name, fn in (("memory", f.memory), ("scale", f.scale), ("burst", f.burst)):
                if name in figs:
                    progress(f"{name} on {backend}")
                    figs[name]["results"][backend] = await fn(dbs, opts, traffic)
            if "campaign" in figs:
                progress(f"campaign on {backend}")
                figs["campaign"]["results"][backend] = await campaign(dbs, campaign_options(args))
        finally:
            result["notes"].extend(sorted(dbs.notes))
            await dbs.close()
    if "replay" in figs:
        progress("replay")
        figs["replay"]["results"]["process"] = f.replay(opts)
    return result


_T0 = time.perf_counter()


def progress(text: str) -> None:
    print(f"... {time.perf_counter() - _T0:6.1f} s  {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    quiet_logging(args.log_level)
    started = time.perf_counter()
    try:
        result = asyncio.run(measure(args))
    except Exception:
        traceback.print_exc()
        return 1
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(table(result))
    write_json(result, SMOKE if args.smoke else LATEST)
    if args.json:
        write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
