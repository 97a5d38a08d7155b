"""Charts of a matrix run: req/s per scenario (ours with the range of its runs,
the tutorial's, the limit), latency percentiles per scenario, the concurrency
sweep and the capacity searches (p99 against the rate asked, the objective as a
line), each as SVG and PNG.

    python scripts/charts.py results/matrix-<timestamp>/results.json results/matrix-<timestamp>/
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, out: Path, name: str) -> None:
    fig.tight_layout()
    for ext in ("svg", "png"):
        fig.savefig(out / f"{name}.{ext}", dpi=120)
    plt.close(fig)


def rps_chart(results: dict, out: Path) -> None:
    rows = results["rows"]
    # A scenario the tutorial never ran has no tutorialRps key at all.
    names = [r["scenario"] + ("" if "tutorialRps" in r else "\n(beyond tutorial)") for r in rows]
    ours = [(r["result"] or {}).get("requestsPerSecond") or 0 for r in rows]
    runs = [[run["requestsPerSecond"] for run in (r["result"] or {}).get("repeats", [])] for r in rows]
    # The range of the runs around each median: min to max.
    spread = [[o - min(rs) if rs else 0 for o, rs in zip(ours, runs)], [max(rs) - o if rs else 0 for o, rs in zip(ours, runs)]]
    seed = [r.get("tutorialRps") or 0 for r in rows]
    limit = [(r["result"] or {}).get("limitRps") or 0 for r in rows]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    x = range(len(names))
    width = 0.27
    ax.bar([i - width for i in x], ours, width, label="measured here (median; bar: min to max of the runs)", yerr=spread, capsize=3)
    ax.bar(list(x), seed, width, label="tutorial (absent: not published, or beyond it)")
    ax.bar([i + width for i in x], limit, width, label="limit (Little's law)", color="lightgrey")
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            ax.annotate("FAILED", (i - width, 0), ha="center", va="bottom", color="red", rotation=90)
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("requests per second")
    ax.set_yscale("symlog", linthresh=5)
    ax.set_title(f"Requests per second per scenario ({drivers(rows)}, delay from each scenario's load)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    save(fig, out, "rps")


def drivers(rows: list) -> str:
    """The drivers that produced these rows, e.g. "ab 2.3" or "ab 2.3, oha 1.16.0"."""
    names = sorted({f"{r['result']['driver']} {r['result']['driverVersion']}" for r in rows if r.get("result")})
    return ", ".join(names) or "no run"


# ab reports no p99.9: a scenario's line simply stops at p99 there.
PERCENTILES = [("p50", "p50"), ("p90", "p90"), ("p95", "p95"), ("p99", "p99"), ("p999", "p99.9")]


def latency_chart(results: dict, out: Path) -> None:
    rows = [r for r in results["rows"] if r.get("result")]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(9, 5.5))
    # Eleven scenarios outrun the default ten-colour cycle: one colour each.
    colors = plt.get_cmap("tab20").colors
    for n, r in enumerate(rows):
        latency = r["result"]["latencyMs"]
        points = [(i, latency.get(key)) for i, (key, _) in enumerate(PERCENTILES) if latency.get(key)]
        if points:
            label = f"{r['scenario']} ({r['result']['driver']})"
            ax.plot([i for i, _ in points], [v for _, v in points], marker="o", label=label, color=colors[n % len(colors)])
    ax.set_xticks(range(len(PERCENTILES)))
    ax.set_xticklabels([label for _, label in PERCENTILES])
    ax.set_yscale("log")
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("Latency percentiles per scenario")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    save(fig, out, "latency")


def sweep_chart(results: dict, out: Path) -> None:
    points = results["sweep"]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(9, 5.5))
    # One line per scenario and CPU split (dashed: with the split).
    for scenario, split in sorted({(p["scenario"], p.get("split", "")) for p in points}):
        mine = [p for p in points if p["scenario"] == scenario and p.get("split", "") == split]
        ok = [p for p in mine if p["status"] == "ok"]
        ax.plot([p["concurrency"] for p in ok], [p["result"]["requestsPerSecond"] for p in ok], marker="o",
                linestyle="--" if split else "-", label=f"{scenario}, split {split}" if split else scenario)
        for p in mine:
            if p["status"] != "ok":
                ax.plot([p["concurrency"]], [0], marker="x", color="red")
    levels = sorted({p["concurrency"] for p in points})
    delay = next((p["result"]["delaySeconds"] for p in points if p["result"]), 1)
    ax.plot(levels, [lv / delay for lv in levels], linestyle="--", color="grey", label="limit: clients / delay")
    baselines = [(p["concurrency"], p["baseline"]["requestsPerSecond"]) for p in points if p.get("baseline")]
    if baselines:
        seen = dict(sorted(baselines))
        ax.plot(list(seen), list(seen.values()), linestyle=":", color="black", label="harness baseline (slow API directly)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests per second")
    ax.set_title("Concurrency sweep (x: failed level)")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, out, "sweep")


def capacity_chart(results: dict, out: Path) -> None:
    rows = [r for r in results["rows"] if (r.get("result") or {}).get("capacity")]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colors = plt.get_cmap("tab20").colors
    for n, r in enumerate(rows):
        probes = sorted(r["result"]["capacity"]["probes"], key=lambda p: p["askedRps"])
        points = [(p["askedRps"], p["latencyMs"]["p99"]) for p in probes if p["latencyMs"]["p99"] is not None]
        color = colors[n % len(colors)]
        ax.plot([a for a, _ in points], [v for _, v in points], marker="o", color=color, label=r["scenario"])
        missed = [(p["askedRps"], p["latencyMs"]["p99"]) for p in probes if not p["passed"] and p["latencyMs"]["p99"] is not None]
        ax.plot([a for a, _ in missed], [v for _, v in missed], linestyle="none", marker="x", color="red")
    slo = rows[0]["result"]["capacity"]["sloP99Ms"]
    ax.axhline(slo, linestyle="--", color="grey", label=f"objective: p99 <= {slo} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rate asked (requests per second, constant arrivals)")
    ax.set_ylabel("p99 latency (ms, from when each request was due)")
    ax.set_title("Capacity search (x: missed the objective)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    save(fig, out, "capacity")


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    rps_chart(results, out)
    latency_chart(results, out)
    sweep_chart(results, out)
    capacity_chart(results, out)


if __name__ == "__main__":
    main()
