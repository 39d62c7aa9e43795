"""``python -m benchmarks SCENARIO --targets ...``: run a scenario against
each target in turn (same machine, same run), print a progress line per
load step and a summary table, and write a JSON result and a PNG plot."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

from benchmarks import plan as plans
from benchmarks.report import machine, plot, steps_table, summary_table
from benchmarks.runner import Options, run_idle, run_storm, run_target
from benchmarks.targets import TARGETS

RESULTS = Path(__file__).resolve().parent / "results"


def _rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r]


def _targets(text: str) -> list[str]:
    names = [t for t in text.split(",") if t]
    unknown = [t for t in names if t not in TARGETS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown targets {unknown}; known: {sorted(TARGETS)}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "scenario",
        choices=["chat", "fanout", "connections", "storm", "push", "disk"],
        help="push and disk have options of their own (python -m benchmarks disk --help)",
    )
    parser.add_argument("--targets", type=_targets, default=["carehub"])
    parser.add_argument("--pairs", type=int, default=25, help="chat: practitioner-patient pairs")
    parser.add_argument("--devices", type=int, default=2, help="chat: devices per user")
    parser.add_argument("--members", type=int, default=100, help="fanout: thread size")
    parser.add_argument("--publishers", type=int, default=10, help="fanout: members publishing")
    parser.add_argument("--connections", type=int, default=1000, help="connections: how many")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="connections: window")
    parser.add_argument(
        "--missed", type=int, default=20, help="storm: messages each publisher sends while away"
    )
    parser.add_argument(
        "--rates",
        type=_rates,
        default=None,
        help="messages/s per step, comma-separated (default: doubling until the knee)",
    )
    parser.add_argument(
        "--stop-at-knee",
        action="store_true",
        help="with --rates, stop after the first step past the knee (always without --rates)",
    )
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--payload-bytes", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument(
        "--source-addresses",
        type=int,
        default=1,
        help="spread links over 127.0.0.1..N (past one address's ephemeral ports)",
    )
    parser.add_argument(
        "--no-receipts", action="store_true", help="carehub receivers send no receipts"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to cores 0 and 1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def _default_rates(scenario: str, members: int) -> list[float]:
    if scenario == "storm":
        return [150.0]  # messages/s sent while the listeners are away
    start = 50.0 if scenario == "chat" else max(1.0, 2000 / members)
    return [start * 2**k for k in range(14)]


def _options(args: argparse.Namespace) -> Options:
    return Options(
        rates=args.rates or _default_rates(args.scenario, args.members),
        step_seconds=args.step_seconds,
        payload_bytes=args.payload_bytes,
        workers=args.workers,
        server_cpu=None if args.no_pin else 0,
        generator_cpu=None if args.no_pin else 1,
        stop_at_knee=args.rates is None or args.stop_at_knee,
        local_hosts=args.source_addresses,
        receipts=not args.no_receipts,
        tolerate_failed_links=args.scenario == "connections",
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["push"]:  # one server, its own options (benchmarks/push.py)
        from benchmarks import push

        return push.main(argv[1:])
    if argv[:1] == ["disk"]:  # no server: the disk's commits (benchmarks/disk.py)
        from benchmarks import disk

        return disk.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.scenario in ("chat", "storm"):
        plan = plans.chat(args.pairs, args.devices)
        label = f"{args.scenario}, {args.pairs} pairs x {args.devices} devices"
    elif args.scenario == "fanout":
        plan = plans.fanout(args.members, args.publishers)
        label = f"fan-out, one thread of {args.members}, {args.publishers} publishers"
    else:
        plan = plans.idle(args.connections)
        label = f"{args.connections} idle connections"
    options = _options(args)
    now = datetime.datetime.now(datetime.UTC)
    if args.scenario == "connections":
        results = [run_idle(name, plan, options, args.idle_seconds) for name in args.targets]
    elif args.scenario == "storm":
        results = [run_storm(name, plan, options, args.missed) for name in args.targets]
    else:
        results = [run_target(name, plan, options) for name in args.targets]
        print()
        print(f"{label}: {len(plan.links)} links, {options.step_seconds:g} s steps")
        print(summary_table(results))
        for result in results:
            print(f"\n{result['target']}, every step:")
            print(steps_table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.scenario}-{now:%Y%m%d-%H%M%S}"
    document = {
        "scenario": args.scenario,
        "label": label,
        "date": now.isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "benchmarks", *argv]),
        "machine": machine(options.server_cpu, options.generator_cpu),
        "options": {**vars(options), "links": len(plan.links)},
        "results": results,
    }
    stem.with_suffix(".json").write_text(json.dumps(document, indent=1))
    if args.scenario in ("chat", "fanout"):
        plot(results, label, stem.with_suffix(".png"))
    print(f"\nwrote {stem}.json" + (" and .png" if args.scenario in ("chat", "fanout") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
