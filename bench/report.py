"""Medians over repetitions, the issue's target ratios, and the outputs: markdown, JSON, PNG."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from systems import System

Figures = dict[str, Any]  # one client process's JSON line (nested by scenario)


def flatten(figures: Figures) -> dict[str, float]:
    """{"seq": {"p50_ms": 1}} -> {"seq.p50_ms": 1}."""
    flat: dict[str, float] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": float(v) for k, v in value.items()})
        elif isinstance(value, (int, float)):
            flat[key] = float(value)
    return flat


def medians(reps: list[Figures | None]) -> dict[str, float]:
    """Per-metric median over the repetitions that produced figures."""
    flats = [flatten(r) for r in reps if r is not None]
    keys = sorted({k for f in flats for k in f})
    return {k: statistics.median(f[k] for f in flats if k in f) for k in keys}


@dataclass(frozen=True)
class Target:
    text: str
    system: str
    baseline: str
    metric: str
    lower_is_better: bool
    bound: float  # the ratio system / baseline must be at most (lower) or at least this

    def evaluate(self, med: dict[str, dict[str, float]]) -> dict[str, Any]:
        mine, theirs = med.get(self.system, {}), med.get(self.baseline, {})
        out: dict[str, Any] = {"target": self.text, "metric": self.metric, "bound": self.bound}
        if self.metric not in mine or self.metric not in theirs or not theirs[self.metric]:
            out.update(ratio=None, met=None)
            return out
        ratio = mine[self.metric] / theirs[self.metric]
        met = ratio <= self.bound if self.lower_is_better else ratio >= self.bound
        out.update(ratio=ratio, met=met, value=mine[self.metric], baseline=theirs[self.metric])
        return out


# Issue 10's targets for the defaults (`rpcgen serve` with no options), then issue 5's others.
TARGETS = (
    Target("sequential p50 ≤ 0.5x Nameko", "rpcgen", "nameko", "seq.p50_ms", True, 0.5),
    Target("100 in flight ≥ 6x Nameko", "rpcgen", "nameko", "pipe100.calls_per_s", False, 6),
    Target("1,000 in flight ≥ 6x Nameko", "rpcgen", "nameko", "pipe1000.calls_per_s", False, 6),
    Target(
        "100 in flight ≥ 1.0x pika tutorial", "rpcgen", "pika", "pipe100.calls_per_s", False, 1.0
    ),
    Target(
        "1,000 in flight ≥ 1.0x pika tutorial", "rpcgen", "pika", "pipe1000.calls_per_s", False, 1.0
    ),
    Target(
        "asyncio, 100 in flight ≥ 2x aio-pika JsonRPC",
        "rpcgen-asyncio",
        "aio-pika",
        "pipe100.calls_per_s",
        False,
        2,
    ),
    Target(
        "asyncio, 1,000 in flight ≥ 2x aio-pika JsonRPC",
        "rpcgen-asyncio",
        "aio-pika",
        "pipe1000.calls_per_s",
        False,
        2,
    ),
    Target(
        "client CPU/call, sequential ≤ 0.25x Nameko",
        "rpcgen",
        "nameko",
        "seq.cpu_client_us",
        True,
        0.25,
    ),
    Target(
        "client CPU/call, 100 in flight ≤ 0.25x Nameko",
        "rpcgen",
        "nameko",
        "pipe100.cpu_client_us",
        True,
        0.25,
    ),
)


# Issue 18's: the async server against the sync one, the asyncio client against the futures one
# (both at their defaults, in the same run).
_SERVER, _CLIENT, _SEQ = "rpcgen-async-server", "rpcgen-asyncio", "seq.p50_ms"
_P100, _P1000 = "pipe100.calls_per_s", "pipe1000.calls_per_s"
ASYNC_TARGETS = (
    Target("async server, sequential p50 ≤ 1.0x sync server", _SERVER, "rpcgen", _SEQ, True, 1),
    Target("async server, 100 in flight ≥ 1.0x sync server", _SERVER, "rpcgen", _P100, False, 1),
    Target("async server, 1,000 in flight ≥ 1.0x sync server", _SERVER, "rpcgen", _P1000, False, 1),
    Target("asyncio client, 100 in flight ≥ 0.9x futures", _CLIENT, "rpcgen", _P100, False, 0.9),
    Target("asyncio client, 1,000 in flight ≥ 0.9x futures", _CLIENT, "rpcgen", _P1000, False, 0.9),
)


def targets(med: dict[str, dict[str, float]]) -> list[Target]:
    """Every target for rpcgen at its default prefetch, and again for each ``-p<N>`` variant run."""
    variants = sorted({k.rpartition("-p")[2] for k in med if k.startswith("rpcgen") and "-p" in k})
    out = list(TARGETS) + list(ASYNC_TARGETS)
    for n in variants:
        out += [
            dataclasses.replace(t, text=f"{t.text} (prefetch {n})", system=f"{t.system}-p{n}")
            for t in (*TARGETS, *TUNED)
        ]
    return out


# What a documented setting (a larger prefetch) must reach; checked for each ``-p<N>`` variant.
TUNED = (
    Target("1,000 in flight ≥ 12x Nameko", "rpcgen", "nameko", "pipe1000.calls_per_s", False, 12),
)


SCENARIOS = """\
Scenarios: *seq* is one call at a time; *N in flight* submits N calls, then waits for all of them,
and repeats; payloads are a string of 100 KiB or 1 MiB echoed back. Each scenario runs for a fixed
time. CPU per call is the process's CPU time over the scenario divided by its calls (the broker's
includes anything else it served). Memory growth is the peak RSS while 1,000 calls were in flight,
minus the idle RSS."""


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _table(
    title: str,
    columns: list[tuple[str, str, Callable[[float], float]]],
    systems: list[System],
    med: dict[str, dict[str, float]],
) -> list[str]:
    lines = [f"### {title}", "", "| system | " + " | ".join(c[0] for c in columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for system in systems:
        m = med.get(system.key, {})
        cells = [_fmt(scale(m[key]) if key in m else None) for _, key, scale in columns]
        lines.append(f"| {system.label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _same(x: float) -> float:
    return x


def _mib(x: float) -> float:
    return x / 1024


def markdown(systems: list[System], med: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    """The results as markdown: four tables and the target ratios."""
    lines = ["# rpcgen benchmark results", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "Systems (each server and client is its own process):", ""]
    lines += [f"- **{s.label}**: {s.semantics}" for s in systems]
    lines += ["", SCENARIOS, ""]
    lines += _table(
        "Round trips (small call: compute(1, 2))",
        [
            ("seq p50 ms", "seq.p50_ms", _same),
            ("seq p99 ms", "seq.p99_ms", _same),
            ("seq calls/s", "seq.calls_per_s", _same),
            ("10 in flight, calls/s", "pipe10.calls_per_s", _same),
            ("100 in flight, calls/s", "pipe100.calls_per_s", _same),
            ("1,000 in flight, calls/s", "pipe1000.calls_per_s", _same),
        ],
        systems,
        med,
    )
    lines += _table(
        "Payloads (echo: the payload goes there and back)",
        [
            ("100 KB p50 ms", "kb100.p50_ms", _same),
            ("100 KB p99 ms", "kb100.p99_ms", _same),
            ("1 MB p50 ms", "mb1.p50_ms", _same),
            ("1 MB p99 ms", "mb1.p99_ms", _same),
        ],
        systems,
        med,
    )
    lines += _table(
        "CPU µs per call",
        [
            ("seq client", "seq.cpu_client_us", _same),
            ("seq server", "seq.cpu_server_us", _same),
            ("seq broker", "seq.cpu_broker_us", _same),
            ("100 in flight client", "pipe100.cpu_client_us", _same),
            ("100 in flight server", "pipe100.cpu_server_us", _same),
            ("100 in flight broker", "pipe100.cpu_broker_us", _same),
        ],
        systems,
        med,
    )
    lines += _table(
        "Memory (RSS, MiB)",
        [
            ("idle client", "rss_idle_client_kib", _mib),
            ("idle server", "rss_idle_server_kib", _mib),
            ("client growth, 1,000 in flight", "rss_1000_client_kib", _mib),
            ("server growth, 1,000 in flight", "rss_1000_server_kib", _mib),
        ],
        systems,
        med,
    )
    lines += [
        "### Targets (issues 5, 10 and 18), ratio of medians",
        "",
        "| target | ratio | met |",
        "|---|---:|---|",
    ]
    for t in (target.evaluate(med) for target in targets(med)):
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        lines.append(f"| {t['target']} | {_fmt(t['ratio'])} | {met} |")
    return "\n".join(lines) + "\n"


def plot(systems: list[System], raw: dict[str, list[Figures | None]], path: Path) -> None:
    """Throughput against calls in flight (1 = sequential), median with min-max bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = {1: "seq.calls_per_s", 10: "pipe10.calls_per_s", 100: "pipe100.calls_per_s"}
    keys[1000] = "pipe1000.calls_per_s"
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for system in systems:
        flats = [flatten(r) for r in raw.get(system.key, []) if r is not None]
        xs, ys, lo, hi = [], [], [], []
        for x, key in keys.items():
            vals = [f[key] for f in flats if key in f]
            if vals:
                med = statistics.median(vals)
                xs.append(x)
                ys.append(med)
                lo.append(med - min(vals))
                hi.append(max(vals) - med)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=system.label)
    ax.set_xscale("log")
    ax.set_xticks(list(keys), [str(k) for k in keys])
    ax.set_xlabel("calls in flight (1 = sequential)")
    ax.set_ylabel("calls/s (median, min-max bars)")
    ax.set_title("RPC throughput over RabbitMQ (client, server and broker share 2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(
    out: Path,
    systems: list[System],
    raw: dict[str, list[Figures | None]],
    errors: dict[str, list[str]],
    meta: dict[str, Any],
) -> str:
    """Write results.md, results.json and throughput.png into `out`; return the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    med = {s.key: medians(raw.get(s.key, [])) for s in systems}
    text = markdown(systems, med, meta)
    (out / "results.md").write_text(text)
    doc = {
        "meta": meta,
        "systems": {
            s.key: {
                "label": s.label,
                "median": med[s.key],
                "reps": raw.get(s.key, []),
                "errors": errors.get(s.key, []),
            }
            for s in systems
        },
        "targets": [t.evaluate(med) for t in targets(med)],
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    plot(systems, raw, out / "throughput.png")
    return text
