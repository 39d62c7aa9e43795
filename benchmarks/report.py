"""Results: the machine they were measured on, the summary table, the plot."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["acked_per_s", "machine", "plot", "steps_table", "summary_table"]

_PACKAGES = (
    "carehub",
    "uvicorn",
    "starlette",
    "websockets",
    "msgspec",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "picows",
    "daphne",
    "channels",
    "channels-redis",
    "django",
    "python-socketio",
)


def machine(server_cpu: int | None, generator_cpu: int | None) -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    if redis.returncode == 0:
        versions["redis-server"] = redis.stdout.split()[2].removeprefix("v=")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pinning": {"server": server_cpu, "generator": generator_cpu},
        "versions": versions,
    }


def _best(result: dict[str, Any]) -> dict[str, Any] | None:
    return result["knee"] or (result["steps"][0] if result["steps"] else None)


def summary_table(results: list[dict[str, Any]]) -> str:
    """A Markdown table: each target at its knee (or its first step if none)."""
    header = (
        "| target | knee msgs/s | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms "
        "| delivered | server CPU | server RSS MB | generator CPU |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [header]
    for result in results:
        step = _best(result)
        if step is None:
            continue
        latency = step["latency"]
        knee = "" if result["knee"] else " (over knee)"
        rows.append(
            f"| {result['target']}{knee} | {step['sent_per_s']:.0f} | "
            f"{step['delivered_per_s']:.0f} | {latency.get('p50_ms', 0):.2f} | "
            f"{latency.get('p99_ms', 0):.2f} | {latency.get('p99_9_ms', 0):.2f} | "
            f"{latency.get('max_ms', 0):.1f} | {step['delivery_ratio']:.2%} | "
            f"{step['server_cpu']:.0%} | {step['server_rss_mb']:.0f} | "
            f"{step['generator_cpu']:.0%} |"
        )
    return "\n".join(rows)


def steps_table(result: dict[str, Any]) -> str:
    """A Markdown table of every load step of one target."""
    rows = [
        "| offered msgs/s | sent/s | acked in step/s | deliveries/s | delivered "
        "| p50 ms | p99 ms | p99.9 ms | ack p50 ms | ack p99 ms | server CPU | generator CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for step in result["steps"]:
        latency, ack = step["latency"], step["ack"]
        rows.append(
            f"| {step['offered_per_s']:.0f} | {step['sent_per_s']:.0f} | {acked_per_s(step)} | "
            f"{step['delivered_per_s']:.0f} | {step['delivery_ratio']:.2%} | "
            f"{latency.get('p50_ms', 0):.2f} | {latency.get('p99_ms', 0):.2f} | "
            f"{latency.get('p99_9_ms', 0):.2f} | {ack.get('p50_ms', 0):.2f} | "
            f"{ack.get('p99_ms', 0):.2f} | {step['server_cpu']:.0%} | {step['generator_cpu']:.0%} |"
        )
    return "\n".join(rows)


def acked_per_s(step: dict[str, Any]) -> str:
    """Acknowledged per second while the step sent: past the knee, the
    target's capacity ("-" for a target that acknowledges nothing, or a
    result from before this was measured)."""
    acked = step.get("acked_in_step_per_s")
    return "-" if not step["ack"].get("count") or acked is None else f"{acked:.0f}"


def plot(results: list[dict[str, Any]], title: str, path: Path) -> None:
    """Latency percentiles (log scale) against offered load, one colour per target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5))
    styles = {"p50_ms": ":", "p99_ms": "-", "p99_9_ms": "--"}
    for index, result in enumerate(results):
        colour = f"C{index}"
        steps = [s for s in result["steps"] if s["latency"].get("count")]
        loads = [s["offered_per_s"] for s in steps]
        for key, style in styles.items():
            axes.plot(
                loads,
                [s["latency"][key] for s in steps],
                style,
                marker="o",
                markersize=3,
                color=colour,
                label=f"{result['target']} {key.removesuffix('_ms').replace('_', '.')}",
            )
    axes.axhline(100, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered load (messages/s)")
    axes.set_ylabel("delivery latency (ms)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
