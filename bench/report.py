"""`make report`: run every benchmark and write a report folder: a markdown summary, PNG charts
(latency histograms per path, throughput, cold starts) and the cost of 1 million inbound messages.

    python -m bench.report [--out bench/results] [--quick] [--only NAME ...]

``--only`` runs those benchmarks again (one that failed, or was measured under another load) and
keeps the other figures from the report's figures.json.

The cost is computed from what bench/cost.py counts per inbound message (Firestore document reads
and writes at the client's RPC layer, function invocations, billed Pub/Sub bytes, handler time)
at Google's list prices below; edit PRICES when they change. PER_MESSAGE holds the figures by
design, used for what is not counted (memory and vCPU sizes) and when the count fails.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Google Cloud list prices (USD), us-central1 / regional Firestore, request-based Cloud Run functions.
PRICES = {
    "firestore_write_per_100k": 0.09,  # multi-region (nam5): 0.18
    "firestore_read_per_100k": 0.03,  # multi-region (nam5): 0.06
    "function_invocation_per_million": 0.40,
    "function_vcpu_second": 0.000024,
    "function_gib_second": 0.0000025,
    "pubsub_per_tib": 40.0,  # publish and delivery both count, at least 1,000 bytes each
}


def _size(function: str) -> tuple[float, float]:
    """A function's vCPU and GiB as infra/topology.json declares them (the one place sizes live).
    Priced as if each request had its instance to itself: an upper bound, since Cloud Run bills
    instance time and an instance serves up to its concurrency at once."""
    topology = json.loads((Path(__file__).resolve().parents[1] / "infra" / "topology.json").read_text())
    declared = topology["functions"][function]
    memory = str(declared["memory"])
    gib = float(memory[:-2]) if memory.endswith("Gi") else float(memory[:-2]) / 1024
    return float(declared["cpu"]), gib


_INGEST, _WEBHOOK = _size("ingest"), _size("webhook_whatsapp")

# What one inbound message costs, by construction (ARCHITECTURE.md "Idempotency and ordering").
PER_MESSAGE = {
    "firestore_writes": 2,  # message create + conversation merge (one batch); the contact when it changed
    "firestore_reads": 1,  # the parked-events lookup (1 read even when empty); routes are cached
    "webhook_invocations": 1.0,  # worst case: one message per webhook (Meta batches under load)
    "ingest_invocations": 1.0,
    "ingest_seconds": 0.03,  # measured median ingest time on the emulators (an upper bound in production)
    "ingest_vcpu": _INGEST[0],
    "ingest_gib": _INGEST[1],
    "webhook_seconds": 0.01,
    "webhook_vcpu": _WEBHOOK[0],
    "webhook_gib": _WEBHOOK[1],
    "pubsub_message_bytes": 1500,  # a normalized text event with its raw item and attributes
}


SIZES = ("ingest_vcpu", "ingest_gib", "webhook_vcpu", "webhook_gib")  # by design, not counted


def cost_per_million(
    prices: dict[str, float] = PRICES, usage: dict[str, float] = PER_MESSAGE
) -> dict[str, float]:
    """USD per 1,000,000 inbound messages, by service."""
    n = 1_000_000
    firestore = (
        usage["firestore_writes"] * n / 100_000 * prices["firestore_write_per_100k"]
        + usage["firestore_reads"] * n / 100_000 * prices["firestore_read_per_100k"]
    )
    invocations = (usage["webhook_invocations"] + usage["ingest_invocations"]) * n / 1e6
    compute = n * (
        usage["ingest_seconds"]
        * (
            usage["ingest_vcpu"] * prices["function_vcpu_second"]
            + usage["ingest_gib"] * prices["function_gib_second"]
        )
        + usage["webhook_seconds"]
        * (
            usage["webhook_vcpu"] * prices["function_vcpu_second"]
            + usage["webhook_gib"] * prices["function_gib_second"]
        )
    )
    functions = invocations * prices["function_invocation_per_million"] + compute
    billable = max(usage["pubsub_message_bytes"], 1000) * 2  # publish + push delivery
    pubsub = n * billable / 2**40 * prices["pubsub_per_tib"]
    return {
        "firestore": round(firestore, 2),
        "functions": round(functions, 2),
        "pubsub": round(pubsub, 2),
        "total": round(firestore + functions + pubsub, 2),
    }


BENCHMARKS: dict[str, str] = {
    "webhook_throughput": "bench.webhook_throughput",
    "e2e_latency": "bench.e2e_latency",
    "cold_start": "bench.cold_start",
    "outbound": "bench.outbound",
    "load": "bench.load",
    "dashboard_latency": "bench.dashboard_latency",
    "chat": "bench.chat",
    "chat_scale": "bench.chat_scale",
    "cost": "bench.cost",
    "parse_speed": "bench.parse_speed",
    "media_latency": "bench.media_latency",
    "media_dashboard_latency": "bench.media_dashboard_latency",
    "media_upload": "bench.media_upload",
    "search": "bench.search",
    "notifications": "bench.notifications",
    "auto_assign": "bench.auto_assign",
    "reports": "bench.reports",
    "export": "bench.export",
    "team_inbox": "bench.team_inbox",
}

# Arguments of the benchmarks whose run() has no defaults (their command lines' defaults), and the
# smaller runs of --quick.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "auto_assign": {"conversations": 200, "agents": 10, "capacity": 50, "threads": 8, "duplicates": 0.1},
    "export": {"sizes": [5_000, 20_000], "fmt": "jsonl"},
}
QUICK: dict[str, dict[str, Any]] = {
    "load": {"events": 2000, "hot_seconds": 10},
    "parse_speed": {"rounds": 3, "loops": 50},
    "search": {"messages": 10_000, "rounds": 10},
    "chat_scale": {"sizes": (2, 100), "posts": 6, "rate_line": False},
    "notifications": {"conversations": 20},
    "auto_assign": {"conversations": 60, "agents": 5, "capacity": 50, "threads": 4, "duplicates": 0.1},
    "reports": {"seconds": 3.0},
    "export": {"sizes": [2_000], "fmt": "jsonl"},
}


def run_all(quick: bool, names: list[str] | None = None) -> dict[str, Any]:
    """Run every benchmark that exists (or those ``names``); a failing one is reported, not fatal."""
    results: dict[str, Any] = {}
    for name, module_name in BENCHMARKS.items():
        if names is not None and name not in names:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        run: Callable[..., dict[str, Any]] = module.run
        kwargs = dict((QUICK if quick and name in QUICK else ARGUMENTS).get(name, {}))
        try:
            results[name] = run(**kwargs)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def charts(results: dict[str, Any], out: Path) -> list[str]:
    """Write the PNG charts; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, title in (
        ("e2e_latency", "Webhook POST -> inbox listener (ms)"),
        ("dashboard_latency", "Webhook POST -> text in the dashboard's DOM, Chromium (ms)"),
        ("outbound", "Agent send -> provider API call (ms)"),
        ("chat", "Chat createPost -> another member's listener (ms)"),
    ):
        samples = (results.get(name) or {}).get("_samples_ms")
        if samples:
            fig, ax = plt.subplots(figsize=(7, 3.5))
            ax.hist(samples, bins=40, color="#3b82f6")
            ax.axvline(statistics.median(samples), color="black", linestyle="--", label="p50")
            ax.set_title(title)
            ax.set_xlabel("ms")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / f"{name}.png", dpi=100)
            plt.close(fig)
            written.append(f"{name}.png")
    cold = results.get("cold_start") or {}
    targets = {k: v["median_ms"] for k, v in cold.items() if isinstance(v, dict) and "median_ms" in v}
    if targets:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(list(targets), list(targets.values()), color="#10b981")
        ax.set_title("Cold start: process start -> first 200 (median ms)")
        ax.tick_params(axis="x", labelrotation=20)
        fig.tight_layout()
        fig.savefig(out / "cold_start.png", dpi=100)
        plt.close(fig)
        written.append("cold_start.png")
    if "chat_scale" in results:  # against the saved figures of the old code
        written += chat_scale_chart(results["chat_scale"], out)
    rates = {
        "webhook events/s": (results.get("webhook_throughput") or {}).get("events_per_second"),
        "end-to-end events/s (load)": (results.get("load") or {}).get("end_to_end_events_per_second"),
        "deliveries/s": (results.get("outbound") or {}).get("deliver_messages_per_second"),
    }
    rates = {k: v for k, v in rates.items() if isinstance(v, int | float)}
    if rates:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.barh(list(rates), list(rates.values()), color="#f59e0b")
        ax.set_xscale("log")
        ax.set_title("Throughput (log scale)")
        fig.tight_layout()
        fig.savefig(out / "throughput.png", dpi=100)
        plt.close(fig)
        written.append("throughput.png")
    return written


def chat_scale_chart(after: dict[str, Any], out: Path, before: dict[str, Any] | None = None) -> list[str]:
    """Firestore cost per 1M posts against the channel's member count, before (the figures saved
    from the old code, bench/results/chat_scale_before.json) and after (this run)."""
    from bench import chat_scale

    before = before if before is not None else chat_scale.load_before()
    series = [
        (label, run, chat_scale.cost_series(run))
        for label, run in (("before", before or {}), ("after", after))
        if chat_scale.cost_series(run)
    ]
    if not series:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    colors = {"before": "#ef4444", "after": "#10b981"}
    for label, run, costs in series:
        sizes = sorted(costs)
        full = str(run.get("commit") or "")
        commit = full[:7] + ("+changes" if full.endswith("+changes") else "")
        share = float(run.get("online_share") or chat_scale.ONLINE_SHARE)
        ax.plot(
            sizes,
            [costs[n][0] for n in sizes],
            marker="o",
            color=colors[label],
            label=f"{label} ({commit}), {share:.0%} of members online",
        )
        ax.plot(
            sizes,
            [max(costs[n][1], 0.01) for n in sizes],
            marker=".",
            linestyle="--",
            color=colors[label],
            label=f"{label}, nobody online",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("members in the channel (N)")
    ax.set_ylabel("USD per 1M posts")
    ax.set_title("Chat: Firestore cost per 1M posts (us-central1 list prices)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "chat_scale_cost.png", dpi=100)
    plt.close(fig)
    return ["chat_scale_cost.png"]


def chat_scale_table(after: dict[str, Any], before: dict[str, Any] | None = None) -> list[str]:
    """Per N, before and after: writes, reads, listener reads per post, p50 and cost per 1M posts."""
    from bench import chat_scale

    before = before if before is not None else chat_scale.load_before()
    rows = []
    for label, run in (("before", before or {}), ("after", after)):
        for line in run.get("lines") or []:
            if line.get("benchmark") != "chat_scale":
                continue
            rows.append(
                f"| {label} | {line['members']:,} | {line['writes_per_post']} | {line['reads_per_post']} "
                f"| {line['listener_reads_per_post']} | {line['post_latency_ms']['p50']} "
                f"| {line['push_fanout_seconds']} | {line['firestore_cost_per_1m_posts']:,.2f} |"
            )
    if not rows:
        return []
    verdicts = [
        f"- {label}: {line.get('verdict')}" + "".join(f"; {s}" for s in line.get("would_break") or [])
        for label, run in (("before", before or {}), ("after", after))
        for line in run.get("lines") or []
        if line.get("benchmark") == "chat_scale_limits"
    ]
    return [
        "## Chat at community scale",
        "",
        "`bench/chat_scale.py`, through the public chat API. Before: "
        f"`{(before or {}).get('commit', 'not measured')}`; after: `{after.get('commit', 'not measured')}`.",
        "",
        "| code | members | writes/post | reads/post | listener reads/post | p50 ms "
        "| push fan-out s | USD/1M posts |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"At {chat_scale.TARGET_RATE:g} posts/s into the largest channel (production limits):",
        *verdicts,
        "",
    ]


def parse_table(results: dict[str, Any]) -> list[str]:
    """The parse benchmark as a table: µs per real payload per channel, next to json.loads."""
    rows = (results.get("parse_speed") or {}).get("channels") or {}
    if not rows:
        return []
    return [
        "## Parsing speed",
        "",
        "Full normalization of each real provider payload (`bench/parse_speed.py`: split, every item, "
        "the pydantic events, their JSON), best of its rounds, next to `json.loads` of the same bytes.",
        "",
        "| channel | payloads | events | normalize µs/payload | json.loads µs/payload | ratio | spread |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {kind} | {row['payloads']} | {row['events']} | {row['normalize_us_per_payload']} "
            f"| {row['json_loads_us_per_payload']} | {row['ratio_to_json_loads']}x | {row['spread_pct']}% |"
            for kind, row in rows.items()
        ],
        "",
    ]


def markdown(results: dict[str, Any], images: list[str], cost: dict[str, float], counted: bool = True) -> str:
    """The report's README.md."""
    lines = [
        "# Switchboard benchmark report",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        "(2 cores, the Google emulators on the same machine). Each figure comes from `bench/`.",
        "",
        "## Figures",
        "",
    ]
    for name, figures in results.items():
        shown = {k: v for k, v in figures.items() if not k.startswith("_")}
        lines += [f"### {name}", "", "```json", json.dumps(shown, indent=2), "```", ""]
    lines += parse_table(results)
    if "chat_scale" in results:
        lines += chat_scale_table(results["chat_scale"])
    lines += ["## Charts", ""] + [f"![{image}]({image})" for image in images] + [""]
    lines += [
        "## Cost per 1 million inbound messages",
        "",
        "| service | USD |",
        "|---|---|",
        *[f"| {service} | {value:.2f} |" for service, value in cost.items()],
        "",
        (
            "Counted per message by `bench/cost.py` (see `cost` above): "
            + ", ".join(f"{k} {v}" for k, v in (results.get("cost") or {}).get("per_message", {}).items())
            + "; sizes by design: "
            + ", ".join(f"{k} {PER_MESSAGE[k]}" for k in SIZES)
            + "."
        )
        if counted
        else "By design (the count failed): " + ", ".join(f"{k} {v}" for k, v in PER_MESSAGE.items()) + ".",
        "Prices: " + ", ".join(f"{k} {v}" for k, v in PRICES.items()) + " (list prices, us-central1).",
        "Not included: agents' listeners (each change is one read per listening dashboard), storage,",
        "outbound replies, and free tiers (which make a small deployment cheaper).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, chart, write."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--quick", action="store_true", help="a smaller load run")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BENCHMARKS),
        help="run only these again; the others' figures are kept from the report's figures.json",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run_all(args.quick, args.only)
    stored = args.out / "figures.json"
    if args.only and stored.exists():
        kept = json.loads(stored.read_text())
        results = {
            name: results.get(name, kept.get(name)) for name in BENCHMARKS if name in results or name in kept
        }
    images = charts(results, args.out)
    counted = (results.get("cost") or {}).get("cost_per_million_usd")
    cost = counted or cost_per_million()
    (args.out / "README.md").write_text(markdown(results, images, cost, counted=bool(counted)))
    (args.out / "figures.json").write_text(
        json.dumps(
            {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in results.items()},
            indent=2,
        )
    )
    print(f"report written to {args.out}/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
