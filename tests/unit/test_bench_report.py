"""bench/report.py: the report folder (markdown, PNG charts, cost) from benchmark figures."""

from __future__ import annotations

from pathlib import Path

from bench import report


def test_the_cost_per_million_messages_follows_the_counted_operations() -> None:
    cost = report.cost_per_million()
    firestore = (2 * 0.09 + 1 * 0.03) * 10  # 2 writes + 1 read per message, per 100k, times 10
    assert cost["firestore"] == round(firestore, 2)
    assert cost["total"] == round(cost["firestore"] + cost["functions"] + cost["pubsub"], 2)
    doubled = report.cost_per_million(usage={**report.PER_MESSAGE, "firestore_writes": 4})
    assert doubled["firestore"] > cost["firestore"]


def test_the_report_writes_markdown_and_charts(tmp_path: Path) -> None:
    results = {
        "e2e_latency": {"p50_ms": 110.0, "_samples_ms": [100.0, 110.0, 180.0]},
        "outbound": {"deliver_messages_per_second": 25.0, "_samples_ms": [150.0, 190.0]},
        "cold_start": {
            "rounds": 5,
            "baseline_pubsub_only": {"median_ms": 600, "ratio_to_baseline": 1.0},
            "webhook_whatsapp": {"median_ms": 400, "ratio_to_baseline": 0.67},
        },
        "webhook_throughput": {"events_per_second": 5900},
    }
    images = report.charts(results, tmp_path)
    assert set(images) == {"e2e_latency.png", "outbound.png", "cold_start.png", "throughput.png"}
    assert all((tmp_path / image).read_bytes().startswith(b"\x89PNG") for image in images)
    text = report.markdown(results, images, report.cost_per_million())
    assert "## Cost per 1 million inbound messages" in text and "_samples_ms" not in text


def test_the_report_prices_the_counted_figures_when_the_cost_benchmark_ran(tmp_path: Path) -> None:
    counted = {"firestore": 3.0, "functions": 1.71, "pubsub": 0.1, "total": 4.81}
    results = {
        "cost": {
            "per_message": {"firestore_writes": 3.0, "firestore_reads": 1.0},
            "cost_per_million_usd": counted,
        }
    }
    text = report.markdown(results, [], counted)
    assert "| total | 4.81 |" in text
    assert "Counted per message by `bench/cost.py`" in text and "firestore_writes 3.0" in text
    fallback = report.markdown({}, [], report.cost_per_million(), counted=False)
    assert "By design (the count failed)" in fallback


def test_function_sizes_come_from_the_topology() -> None:
    import json

    topology = json.loads((Path(report.__file__).parents[1] / "infra" / "topology.json").read_text())
    assert report.PER_MESSAGE["webhook_vcpu"] == float(topology["functions"]["webhook_whatsapp"]["cpu"])
    assert report.PER_MESSAGE["ingest_vcpu"] == float(topology["functions"]["ingest"]["cpu"])
