"""``make bench``: replay, ceiling and peer on the million-message log, as one markdown table.

Generates (once, cached in ``benchmarks/out/``) the log, runs the three benchmarks, prints
the table that ``benchmarks/README.md`` shows and saves every figure to
``benchmarks/out/results.json``. Takes about 5 minutes on the reference machine (plus
about a minute the first time for the log and the cryptofeed venv).

    python benchmarks/run_all.py [--messages 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ceiling
import peer
import replay
from generate import OUT

from xle._native.book import COMPILED


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def table(results: dict[str, object]) -> str:
    r = results["replay"]
    c = results["ceiling"]
    p = results["peer"]
    fast = c[f"decode_{c['fastest_decoder']}"]
    rows = [
        (
            "replay",
            "full pipeline (`xle replay --speed max` driver), best of "
            f"{len(r['runs_seconds'])} (median {r['median_msgs_per_s']:,.0f} msgs/s)",
            f"{r['msgs_per_s']:,.0f}",
            f"{r['level_updates_per_s'] / 1e6:.2f} M",
            f"peak RSS {r['peak_rss_mb']:.0f} MB ({r['short_messages']:,} msgs: "
            f"{r['short_peak_rss_mb']:.0f} MB"
            + (
                f"; {r['long_messages']:,} msgs: {r['long_peak_rss_mb']:.0f} MB at "
                f"{r['long_msgs_per_s']:,.0f} msgs/s)"
                if r.get("long_messages")
                else ")"
            ),
        ),
    ]
    rows.append(
        (
            "replay",
            "reader + engine only (no derived outputs)",
            "",
            "",
            f"peak RSS {r['engine_peak_rss_mb']:.0f} MB ({r['short_messages']:,} msgs: "
            f"{r['short_engine_peak_rss_mb']:.0f} MB)",
        )
    )
    rows.append(
        (
            "replay",
            "engine alone, both venues, records in memory (250,000)",
            f"{r['engine_mem_msgs_per_s']:,.0f}",
            f"{r['engine_mem_msgs_per_s'] * r['level_updates'] / r['messages'] / 1e6:.2f} M",
            f"{r['engine_mem_cpu_us']:.2f} µs/msg CPU",
        )
    )
    if r.get("pure_python_msgs_per_s"):
        rows.append(
            (
                "replay",
                "full pipeline, pure-Python fallback (`XLE_PURE_PYTHON=1`)",
                f"{r['pure_python_msgs_per_s']:,.0f}",
                f"{r['pure_python_msgs_per_s'] * r['level_updates'] / r['messages'] / 1e6:.2f} M",
                "same outputs, no compiled core",
            )
        )
    for row in r["split"]:
        rows.append(
            ("replay", f"stage: {row['stage']}", "", "", f"{row['us_per_msg']:.2f} µs/msg CPU")
        )
    rows += [
        (
            "ceiling",
            "Parquet read into Arrow (zstd)",
            f"{c['arrow_read_msgs_per_s']:,.0f}",
            "",
            f"{c['arrow_read_mb_per_s']:,.0f} MB/s of payload",
        ),
        (
            "ceiling",
            "Parquet read into RawRecords, replay order",
            f"{c['record_read_msgs_per_s']:,.0f}",
            "",
            "",
        ),
        (
            "ceiling",
            f"decode alone, {c['fastest_decoder']} (Binance / Coinbase)",
            f"{fast['msgs_per_s']:,.0f}",
            f"{fast['level_updates_per_s'] / 1e6:.1f} M",
            f"{fast['binance_msgs_per_s']:,.0f} / {fast['coinbase_msgs_per_s']:,.0f}",
        ),
    ]
    if c["fastest_decoder"] != "msgspec":
        slow = c["decode_msgspec"]
        rows.append(
            (
                "ceiling",
                "decode alone, msgspec typed (Binance / Coinbase)",
                f"{slow['msgs_per_s']:,.0f}",
                f"{slow['level_updates_per_s'] / 1e6:.1f} M",
                f"{slow['binance_msgs_per_s']:,.0f} / {slow['coinbase_msgs_per_s']:,.0f}",
            )
        )
    for mode, label in (("noop", "no-op callback"), ("bbo", "best bid/ask read per message")):
        q = p[mode]
        rows.append(
            (
                "peer",
                f"Binance, {label}: xle engine vs cryptofeed 2.4.1 ({q['messages']:,} msgs)",
                f"{q['xle_msgs_per_s']:,.0f} vs {q['cryptofeed_msgs_per_s']:,.0f}",
                "",
                f"**{q['ratio']:.1f}x**",
            )
        )
    q = p["pipeline"]
    rows.append(
        (
            "peer",
            f"Binance: whole xle pipeline from Parquet (`xle replay --exchange binance`) vs "
            f"cryptofeed 2.4.1 no-op from memory ({q['messages']:,} msgs)",
            f"{q['xle_msgs_per_s']:,.0f} vs {q['cryptofeed_msgs_per_s']:,.0f}",
            "",
            f"**{q['ratio']:.1f}x**",
        )
    )
    full_vs_peer = r["msgs_per_s"] / p["noop"]["cryptofeed_msgs_per_s"]
    rows.append(
        (
            "peer",
            "full xle pipeline (both venues, from Parquet) vs cryptofeed no-op",
            "",
            "",
            f"**{full_vs_peer:.1f}x**",
        )
    )
    lines = [
        "| bench | what | msgs/s | level updates/s | notes |",
        "|---|---|---:|---:|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bbo-messages", type=int, default=50_000)
    args = parser.parse_args()
    started = time.time()
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "compiled": COMPILED,
    }
    results["replay"] = replay.run(args.messages, repeat=args.repeat)
    results["ceiling"] = ceiling.run(args.messages)
    results["peer"] = peer.run(args.messages, args.bbo_messages, repeat=args.repeat)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    print(f"{results['date']}, {results['machine']}, compiled core: {COMPILED}")
    print(f"{args.messages:,} messages, best of {args.repeat} runs per pass\n")
    print(table(results))
    print(f"\n(took {time.time() - started:.0f} s; figures in {OUT / 'results.json'})")


if __name__ == "__main__":
    main()
