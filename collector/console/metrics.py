"""The OpenMetrics endpoint: the Overview's figures for Prometheus/Grafana/Alertmanager.

Computed on each scrape from the same overview model the page shows (no second set of
numbers); served in the OpenMetrics text format by prometheus_client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class OverviewCollector(Collector):
    def __init__(self, model: Callable[[], dict[str, Any]]) -> None:
        self.model = model

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self.model()
        cov = GaugeMetricFamily("optdata_coverage_ratio", "Partitions written / due, per view",
                                labels=["view"])  # fmt: skip
        for view, c in m["coverage"].items():
            if c["coverage"] is not None:
                cov.add_metric([view], c["coverage"])
        yield cov
        speed = GaugeMetricFamily("optdata_snapshot_contracts_per_second",
                                  "Contracts/s of the newest snapshot run of the session")  # fmt: skip
        ceiling = GaugeMetricFamily("optdata_snapshot_ceiling_contracts_per_second",
                                    "Pacing ceiling of that run: min(msg/s / 2, lines / mean dwell)")  # fmt: skip
        done = [t for t in m["throughput"] if t["contracts_per_sec"] is not None]
        if done:
            speed.add_metric([], done[-1]["contracts_per_sec"])
            ceiling.add_metric([], done[-1]["ceiling"] or 0.0)
        yield speed
        yield ceiling
        for name, key, doc in (
            ("optdata_run_error_ratio", "run_error_rate", "Failed or missed runs / finished runs"),
            ("optdata_contract_error_ratio", "contract_error_rate", "Contracts not collected / planned"),
            ("optdata_delayed_ratio", "delayed_ratio", "Intraday rows from delayed data / rows"),
        ):  # fmt: skip
            g = GaugeMetricFamily(name, doc)
            if m["rates"][key] is not None:
                g.add_metric([], m["rates"][key])
            yield g
        cells = GaugeMetricFamily(
            "optdata_slot_cells", "Slot grid cells per status", labels=["status"]
        )
        for status, n in m["grid_counts"].items():
            cells.add_metric([status], n)
        yield cells
        hb = m["heartbeat"]
        last = GaugeMetricFamily("optdata_last_task_timestamp_seconds", "Start of the newest run")
        t = _ts((hb["last_task"] or {}).get("started_at"))
        if t is not None:
            last.add_metric([], t)
        yield last
        yield GaugeMetricFamily("optdata_scheduler_running", "1 if a scheduler holds its lock",
                                value=1.0 if hb["scheduler"] else 0.0)  # fmt: skip
        yield GaugeMetricFamily("optdata_gateway_up", "1 if the gateway port accepts TCP",
                                value=1.0 if hb["gateway_up"] else 0.0)  # fmt: skip
        free = ((m["disk"] or {}).get("filesystem") or {}).get("free")
        disk = GaugeMetricFamily("optdata_disk_free_bytes", "Free bytes on the data filesystem")
        if free is not None:
            disk.add_metric([], float(free))
        yield disk


def exposition(model: Callable[[], dict[str, Any]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OverviewCollector(model))
    return generate_latest(registry)
