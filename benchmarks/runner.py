"""The coordinator: start a target on the server core, the generator's
workers on the other core, step the offered load, and collect the numbers."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.loadgen import Assignment, StepOrder, WorkerError, worker_main
from benchmarks.plan import Plan
from benchmarks.report import acked_per_s
from benchmarks.stats import merge, summarize
from benchmarks.targets import RunningTarget, process_cpu_seconds, start_target

__all__ = ["Options", "run_idle", "run_storm", "run_target", "session"]

KNEE_P99_MS = 100.0
MIN_DELIVERY_RATIO = 0.999
GENERATOR_SATURATED = 0.9  # of one core


@dataclass(frozen=True)
class Options:
    rates: list[float]  # messages/s offered, step by step
    step_seconds: float = 5.0
    drain_seconds: float = 5.0
    payload_bytes: int = 256
    workers: int = 1
    server_cpu: int | None = 0
    generator_cpu: int | None = 1
    stop_at_knee: bool = True
    local_hosts: int = 1  # source addresses 127.0.0.1.. used by the links
    receipts: bool = True  # carehub receivers send receipts.delivered
    tolerate_failed_links: bool = False  # count links that fail to open instead of stopping


class Generator:
    """Worker processes, each holding a share of the links."""

    def __init__(self, options: Options, adapter: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(options.workers):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(theirs, options.generator_cpu, adapter, options.payload_bytes),
                daemon=True,
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def ask_all(self, command: str, arguments: list[Any]) -> list[Any]:
        for pipe, argument in zip(self.pipes, arguments, strict=True):
            pipe.send((command, argument))
        answers = [pipe.recv() for pipe in self.pipes]
        for answer in answers:
            if isinstance(answer, WorkerError):
                raise answer
        return answers

    def broadcast(self, command: str, argument: Any) -> list[Any]:
        return self.ask_all(command, [argument] * len(self.pipes))

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(psutil.Process(p.pid)) for p in self.processes if p.pid)

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("close", None))
                pipe.recv()
            except (OSError, EOFError):
                pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


class ServerSampler:
    """CPU seconds and resident memory of every server-side process."""

    def __init__(self, target: RunningTarget) -> None:
        self.target = target

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(p) for p in self.target.processes())

    def slow_commits(self) -> int | None:
        """carehub's commits so far that its writers waited for over 25 ms,
        on all its nodes (``/healthz`` ``commit_ms``); None for a peer."""
        if not self.target.health:
            return None
        total = 0
        for url in self.target.health:
            buckets = httpx.get(url, timeout=10).json()["commit_ms"]
            total += buckets["all"] - buckets["le_25"]
        return total

    def rss_bytes(self) -> int:
        total = 0
        for process in self.target.processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total


def _assign(plan: Plan, target: RunningTarget, options: Options) -> list[list[Assignment]]:
    shares: list[list[Assignment]] = [[] for _ in range(options.workers)]
    for link in plan.links:
        endpoint = dataclasses.replace(target.endpoint(link.index), receipts=options.receipts)
        if options.local_hosts > 1:
            host = f"127.0.0.{1 + link.index % options.local_hosts}"
            endpoint = dataclasses.replace(endpoint, local_host=host)
        shares[link.index % options.workers].append(Assignment(link, endpoint))
    return shares


def _step(
    generator: Generator,
    sampler: ServerSampler,
    shares: list[list[Assignment]],
    number: int,
    rate: float,
    options: Options,
) -> dict[str, Any]:
    slow_before = sampler.slow_commits()
    publishers = [sum(a.link.publishes for a in share) for share in shares]
    total_publishers = sum(publishers) or 1
    start_ns = time.monotonic_ns() + 200_000_000
    orders = [
        StepOrder(number, rate * count / total_publishers, options.step_seconds, start_ns)
        for count in publishers
    ]
    time.sleep(0.2)
    server_cpu, generator_cpu, wall = (
        sampler.cpu_seconds(),
        generator.cpu_seconds(),
        time.monotonic(),
    )
    sent = generator.ask_all("step", orders)
    elapsed = time.monotonic() - wall
    _, acked_in_step = _counts(generator, number)  # by the end of its sending
    # the step's seconds, or longer if the generator fell behind its schedule
    step_window = max(options.step_seconds, (time.monotonic_ns() - start_ns) / 1e9)
    server_cpu = (sampler.cpu_seconds() - server_cpu) / elapsed
    generator_cpu = (generator.cpu_seconds() - generator_cpu) / elapsed
    expected = sum(s["expected"] for s in sent)
    # carehub acknowledges after delivering. A send refused, or lost with
    # its link, is never acknowledged: the drain then waits out its time.
    acks_expected = sum(s["acks"] for s in sent)
    with contextlib.suppress(TimeoutError):
        _wait(
            generator,
            number,
            lambda counts: counts[0] >= expected and counts[1] >= acks_expected,
            options.drain_seconds,
        )
    slow_after = sampler.slow_commits()
    slow_commits = None if slow_before is None or slow_after is None else slow_after - slow_before
    reports = generator.broadcast("report", number)
    latency = summarize(merge(r["latency"] for r in reports))
    acks = summarize(merge(r["acks"] for r in reports))
    delivered = int(latency["count"])
    errors: dict[str, int] = {}
    closes: dict[str, int] = {}
    for report in reports:
        for code, n in report["errors"].items():
            errors[code] = errors.get(code, 0) + n
        for code, n in report["closes"].items():
            closes[str(code)] = closes.get(str(code), 0) + n
    return {
        "step": number,
        "offered_per_s": rate,
        "sent_per_s": round(sum(s["sent"] for s in sent) / options.step_seconds, 1),
        "delivered_per_s": round(delivered / options.step_seconds, 1),
        # Stored a second while the step sent: past the knee, the capacity.
        "acked_in_step_per_s": round(acked_in_step / step_window, 1),
        "expected": expected,
        "delivered": delivered,
        "delivery_ratio": round(delivered / expected, 5) if expected else 1.0,
        "latency": latency,
        "ack": acks,
        "server_cpu": round(server_cpu, 3),
        "slow_commits": slow_commits,  # waited for over 25 ms: mostly the disk's stalls
        "server_rss_mb": round(sampler.rss_bytes() / 2**20, 1),
        "generator_cpu": round(generator_cpu, 3),
        "generator_saturated": generator_cpu > GENERATOR_SATURATED,
        "errors": errors,
        "closes": closes,
        "disconnected": sum(r["disconnected"] for r in reports),
    }


def progress_line(target: str, step: dict[str, Any]) -> str:
    latency = step["latency"]
    flag = "  GENERATOR SATURATED" if step["generator_saturated"] else ""
    if step.get("slow_commits"):
        flag += f"  {step['slow_commits']} commit(s) over 25 ms"
    return (
        f"{target:<15} step {step['step']:>2}  offered {step['offered_per_s']:>8.0f}/s  "
        f"delivered {step['delivered_per_s']:>9.0f}/s ({step['delivery_ratio']:.1%})  "
        f"acked in step {acked_per_s(step):>7}/s  "
        f"p50 {latency.get('p50_ms', float('nan')):>7.2f} ms  "
        f"p99 {latency.get('p99_ms', float('nan')):>8.2f} ms  "
        f"server cpu {step['server_cpu']:.0%}  generator cpu {step['generator_cpu']:.0%}{flag}"
    )


def within_knee(step: dict[str, Any]) -> bool:
    p99 = step["latency"].get("p99_ms", float("inf"))
    return bool(p99 <= KNEE_P99_MS and step["delivery_ratio"] >= MIN_DELIVERY_RATIO)


@dataclass
class Session:
    """A started target with every link of the plan open."""

    name: str
    plan: Plan
    options: Options
    target: RunningTarget
    generator: Generator
    sampler: ServerSampler
    shares: list[list[Assignment]]
    rss_before_links: int
    connect_seconds: float
    failed_links: int

    def header(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "links": len(self.plan.links) - self.failed_links,
            "failed_links": self.failed_links,
            "connect_seconds": round(self.connect_seconds, 3),
            "connects_per_s": round(len(self.plan.links) / self.connect_seconds, 1),
            "rss_mb_before_links": round(self.rss_before_links / 2**20, 1),
            "versions": self.target.versions,
        }

    def step(self, number: int, rate: float) -> dict[str, Any]:
        return _step(self.generator, self.sampler, self.shares, number, rate, self.options)


@contextlib.contextmanager
def session(name: str, plan: Plan, options: Options) -> Iterator[Session]:
    """Start target ``name``, the generator, and open every link of ``plan``."""
    with tempfile.TemporaryDirectory(prefix="carehub-bench-") as workdir:
        target = start_target(name, plan, Path(workdir), options.server_cpu)
        generator = Generator(options, target.adapter)
        try:
            sampler = ServerSampler(target)
            rss_before = sampler.rss_bytes()
            shares = _assign(plan, target, options)
            started = time.monotonic()
            opened = generator.ask_all("open", shares)
            connect_seconds = time.monotonic() - started
            failed = sum(o["failed"] for o in opened)
            if failed and not options.tolerate_failed_links:
                raise RuntimeError(f"{failed} links failed to open: {opened[0]['failures']}")
            print(f"{name:<15} {len(plan.links)} links open in {connect_seconds:.1f} s", flush=True)
            _settle(sampler)
            yield Session(
                name,
                plan,
                options,
                target,
                generator,
                sampler,
                shares,
                rss_before,
                connect_seconds,
                failed,
            )
        finally:
            generator.close()
            target.stop()


def run_target(name: str, plan: Plan, options: Options) -> dict[str, Any]:
    """Run every load step of ``plan`` against target ``name``."""
    with session(name, plan, options) as running:
        steps = []
        for number, rate in enumerate(options.rates, 1):
            step = running.step(number, rate)
            steps.append(step)
            print(progress_line(name, step), flush=True)
            if options.stop_at_knee and not within_knee(step):
                break
        knee = [s for s in steps if within_knee(s)]
        return running.header() | {"steps": steps, "knee": knee[-1] if knee else None}


def run_idle(name: str, plan: Plan, options: Options, idle_seconds: float) -> dict[str, Any]:
    """Hold every link open and idle: memory per link, CPU spent on heartbeats."""
    with session(name, plan, options) as running:
        rss_after = running.sampler.rss_bytes()
        cpu_before, wall = running.sampler.cpu_seconds(), time.monotonic()
        time.sleep(idle_seconds)  # the measurement window itself
        idle_cpu = (running.sampler.cpu_seconds() - cpu_before) / (time.monotonic() - wall)
        links = len(plan.links) - running.failed_links
        reports = running.generator.broadcast("report", 0)
        result = running.header() | {
            "rss_mb_with_links": round(rss_after / 2**20, 1),
            "rss_kb_per_link": round((rss_after - running.rss_before_links) / links / 1024, 1),
            "idle_cpu": round(idle_cpu, 4),
            "idle_seconds": idle_seconds,
            "disconnected": sum(r["disconnected"] for r in reports),
            "closes": [r["closes"] for r in reports if r["closes"]],
        }
        print(
            f"{name:<15} {links} idle links: {result['connects_per_s']:.0f} connects/s, "
            f"{result['rss_kb_per_link']:.1f} KiB/link, idle CPU {idle_cpu:.1%}, "
            f"{result['disconnected']} dropped, {running.failed_links} failed to open",
            flush=True,
        )
        return result


def run_storm(name: str, plan: Plan, options: Options, missed: int) -> dict[str, Any]:
    """Every listening link goes away, each publisher sends ``missed``
    messages, then all listeners reconnect at once and resume."""
    with session(name, plan, options) as running:
        offline = sum(running.generator.broadcast("go_offline", None))
        publishers = running.plan.publishers
        rate = options.rates[0]
        sent = running.generator.ask_all(
            "step",
            [
                StepOrder(0, rate * n / publishers, missed * publishers / rate, time.monotonic_ns())
                for n in (sum(a.link.publishes for a in share) for share in running.shares)
            ],
        )
        by_link: dict[int, int] = {}
        for answer in sent:
            by_link.update(answer["by_link"])
        total = sum(by_link.values())
        _wait(running.generator, 0, lambda counts: counts[1] >= total, options.drain_seconds * 6)
        want = {
            link.index: sum(
                by_link.get(other.index, 0)
                for other in plan.links
                if other.publishes and other.room == link.room
            )
            for link in plan.links
            if not link.publishes
        }
        print(f"{name:<15} {offline} links offline missed {total} messages; resuming", flush=True)
        cpu_before, wall = running.sampler.cpu_seconds(), time.monotonic()
        outcomes = running.generator.broadcast("resume", want)
        elapsed = time.monotonic() - wall
        cpu = (running.sampler.cpu_seconds() - cpu_before) / elapsed
        caught_up = sorted(t for o in outcomes for t in o["caught_up_s"])
        failed = [f for o in outcomes for f in o["failed"]]
        received = sum(o["received"] for o in outcomes)
        result = running.header() | {
            "offline_links": offline,
            "messages_missed": total,
            "events_expected": sum(want.values()),
            "events_received": received,
            "duplicates": sum(o["duplicates"] for o in outcomes),
            "failed": failed,
            "all_caught_up_s": round(caught_up[-1], 3) if caught_up else None,
            "median_caught_up_s": _share_caught_up(caught_up, 0.5),
            "p90_caught_up_s": _share_caught_up(caught_up, 0.9),
            "server_cpu": round(cpu, 3),
        }
        print(
            f"{name:<15} all {len(caught_up)} caught up in {result['all_caught_up_s']} s "
            f"(median {result['median_caught_up_s']} s, 90 % in {result['p90_caught_up_s']} s); "
            f"{received}/{result['events_expected']} "
            f"messages, {result['duplicates']} duplicates, {len(failed)} failed",
            flush=True,
        )
        return result


def _share_caught_up(caught_up: list[float], share: float) -> float | None:
    """Seconds until ``share`` of the devices had caught up (sorted times)."""
    return round(caught_up[int(len(caught_up) * share)], 3) if caught_up else None


def _settle(sampler: ServerSampler, seconds: float = 60.0) -> None:
    """Wait until the server is done with the connects (presence to every
    contact, welcomes) before measuring: under 20% of a core for a second."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = sampler.cpu_seconds()
        time.sleep(1.0)  # the measurement window
        if sampler.cpu_seconds() - before < 0.2:
            return


def _counts(generator: Generator, step: int) -> tuple[int, int]:
    """The workers' deliveries and acks of ``step`` so far."""
    counts = generator.broadcast("count", step)
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _wait(
    generator: Generator, step: int, done: Callable[[tuple[int, int]], bool], seconds: float
) -> None:
    """Poll the workers' (deliveries, acks) counters of ``step`` until ``done``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done(counts := _counts(generator, step)):
            return
        time.sleep(0.05)  # polling counters that other processes move
    delivered, acked = counts
    raise TimeoutError(f"the target did not keep up: {delivered} delivered, {acked} acked")
