"""``make bench`` / ``python -m bench``: every benchmark in one run.

Writes bench/results/latest.json and prints the table of docs/performance.md.
Targets (issue 12): backlog_ratio >= 0.2, latency_p95_s <= 0.6, and the CPU per
mail reported in baseline mails (the service's CPU per mail over the raw
transport's); scheduler_rebuild_s <= 10, scheduler_rss_mb <= 400 (issue 6);
a year of reminders for a team of 12 (issue 17): one reminder mail a day per
person at most, p95 of all mails per person per day <= 2.
A benchmark never asserts timings: it reports them.
It does fail (exit 1) when the service got something wrong on the way (a mail
without its answer, an answer sent twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from bench.backlog import TUNING, run_baseline, run_service
from bench.corpus import generate
from bench.environment import describe
from bench.hostile import hostile_table, run_hostile
from bench.latency import run_latency
from bench.mail import mail_servers
from bench.parsing import run_parsing
from bench.platform_scale import platform_problems, platform_table, run_platform
from bench.scheduler import run_scheduler
from bench.year_simulation import problems as year_problems
from bench.year_simulation import run as run_year
from bench.year_simulation import year_table

RESULTS = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)


@contextmanager
def phase(progress: Progress, name: str, total: int | None) -> Iterator[Any]:
    task = progress.add_task(name, total=total)

    def tick(done: int) -> None:
        progress.update(task, completed=done)

    yield tick
    progress.update(task, completed=total or 1, total=total or 1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    env = describe()
    raws = generate(args.n, seed=args.seed)
    result: dict[str, Any] = {"n": args.n, "environment": env}
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        with phase(progress, "Parsing (intake + grammar, stdlib)", None):
            result["parsing"] = await asyncio.to_thread(run_parsing, raws,
                                                          min_seconds=args.parse_seconds)
        with phase(progress, "Hostile mail (issue 11 cases)", None):
            result["hostile"] = await asyncio.to_thread(run_hostile)
        async with mail_servers() as mail:
            services, baselines = [], []
            for round_ in range(args.repeat):
                label = f" ({round_ + 1}/{args.repeat})" if args.repeat > 1 else ""
                # Alternate the order so that a drift in the machine's load
                # does not always favour the same side.
                order = ("service", "baseline") if round_ % 2 == 0 else ("baseline", "service")
                for which in order:
                    with phase(progress, f"Backlog: {which}{label}", args.n) as tick:
                        if which == "service":
                            folder = Path(tempfile.mkdtemp(prefix="esp-bench-", dir=mail.workdir))
                            services.append(await run_service(mail, raws, folder, tick=tick))
                        else:
                            baselines.append(await run_baseline(
                                mail, raws, smtp_workers=TUNING.smtp_workers,
                                batch_size=TUNING.batch_size, tick=tick))
            ratios = [s["rate_per_s"] / b["rate_per_s"]
                      for s, b in zip(services, baselines, strict=True)]
            result["backlog"] = {"service": services, "baseline": baselines,
                                 "ratios": [round(r, 3) for r in ratios]}
            result["backlog_ratio"] = round(statistics.median(ratios), 3)
            # The steadier figure on a shared machine: how many of the raw
            # transport's mails the service's CPU for one mail would carry.
            result["cpu_baseline_mails"] = round(
                statistics.median(s["cpu_ms_per_mail"] for s in services)
                / statistics.median(b["cpu_ms_per_mail"] for b in baselines), 1)
            with phase(progress, "Latency (one mail at a time)", args.latency) as tick:
                folder = Path(tempfile.mkdtemp(prefix="esp-bench-", dir=mail.workdir))
                result["latency"] = await run_latency(mail, folder, count=args.latency,
                                                      tick=tick)
            result["latency_p95_s"] = result["latency"]["p95_s"]
        with phase(progress, "Scheduler scale", None):
            result["scheduler"] = await run_scheduler(args)
        if not args.no_platform:
            with phase(progress, "Platform: teams and workers (issue 16)", None):
                result["platform"] = await run_platform()
        if args.year_days:
            with phase(progress, f"Reminders over {args.year_days} days (issue 17)", None):
                result["year"] = await asyncio.to_thread(run_year, args.year_days)
    result["scheduler_rebuild_s"] = result["scheduler"].get("rebuild_s")
    result["scheduler_rss_mb"] = result["scheduler"].get("rss_mb")
    result["environment"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def problems(result: dict[str, Any]) -> list[str]:
    found = []
    for run_ in result["backlog"]["service"]:
        if run_["answered"] != run_["mails"]:
            found.append(f"{run_['mails'] - run_['answered']} mail(s) without an answer")
        if run_["duplicate_answers"]:
            found.append(f"{run_['duplicate_answers']} answer(s) sent twice")
        if run_["outcomes"].get("answered", 0) != run_["mails"]:
            found.append(f"outcomes not all 'answered': {run_['outcomes']}")
    return found


def table(result: dict[str, Any]) -> Table:
    services, baselines = result["backlog"]["service"], result["backlog"]["baseline"]
    med = statistics.median
    t = Table(title=f"esp-coord bench, N = {result['n']}")
    for col in ("figure", "value", "target"):
        t.add_column(col)
    t.add_row("backlog: service rate (mails/s)", f"{med(s['rate_per_s'] for s in services):.1f}",
              "")
    t.add_row("backlog: baseline rate (mails/s)",
              f"{med(b['rate_per_s'] for b in baselines):.1f}", "")
    t.add_row("backlog: service CPU (ms/mail)",
              f"{med(s['cpu_ms_per_mail'] for s in services):.1f}", "")
    t.add_row("backlog: baseline CPU (ms/mail)",
              f"{med(b['cpu_ms_per_mail'] for b in baselines):.2f}", "")
    t.add_row("backlog: service CPU in baseline mails", f"{result['cpu_baseline_mails']:.1f}",
              "")
    t.add_row("backlog_ratio", f"{result['backlog_ratio']:.3f}", ">= 0.2")
    t.add_row("latency p50 (s)", f"{result['latency']['p50_s']:.2f}", "")
    t.add_row("latency_p95_s", f"{result['latency_p95_s']:.2f}", "<= 0.6")
    p = result["parsing"]
    t.add_row("parsing: intake + grammar (mails/s)", f"{p['intake_grammar_per_s']:.0f}", "")
    t.add_row("parsing: stdlib MIME alone (mails/s)", f"{p['stdlib_mime_per_s']:.0f}", "")
    t.add_row("parsing: ratio to stdlib", f"{p['ratio_to_stdlib']:.2f}", "")
    for key, target in (("scheduler_rebuild_s", "<= 10"), ("scheduler_rss_mb", "<= 400")):
        value = result.get(key)
        t.add_row(key, "n/a" if value is None else f"{value:.3g}", target)
    if result["scheduler"].get("dispatch_day_s") is not None:
        t.add_row("scheduler: one day's dispatch (s)",
                  f"{result['scheduler']['dispatch_day_s']:.2f}", "")
    env = result["environment"]
    t.caption = (f"{env['cpu_count']} cores, load {env['load_average_start']} at start, "
                 f"{env['load_average_end']} at end")
    return t


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", "1000")),
                        help="mails in the backlog (env BENCH_N; default 1000)")
    parser.add_argument("--latency", type=int, default=int(os.environ.get("BENCH_LATENCY", "50")),
                        help="mails in the latency run (default 50)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "1")),
                        help="backlog rounds (service and baseline each); the median counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parse-seconds", type=float, default=0.5,
                        help="length of each of the 3 parsing rounds (best counts)")
    parser.add_argument("--no-scheduler", action="store_true", help="skip scheduler scale")
    parser.add_argument("--no-platform", action="store_true",
                        help="skip the teams-and-workers scale (BENCH_PLATFORM sets its matrix)")
    parser.add_argument("--year-days", type=int,
                        default=int(os.environ.get("BENCH_YEAR_DAYS", "365")),
                        help="days of the reminder simulation, 0 to skip (env BENCH_YEAR_DAYS)")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS / "latest.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    # The service logs a line per mail: keep the terminal for the progress bars.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = asyncio.run(run(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    Console().print(table(result))
    Console().print(hostile_table(result["hostile"]))
    if "platform" in result:
        Console().print(platform_table(result["platform"]))
    if "year" in result:
        Console().print(year_table(result["year"]))
    console.print(f"results written to {args.output}")
    found = (problems(result) + platform_problems(result.get("platform", {}))
             + year_problems(result.get("year", {})))
    for problem in found:
        console.print(f"[red]PROBLEM[/red]: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
