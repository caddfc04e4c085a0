#!/usr/bin/env python3
"""Tables from the output of benchmarks/side_by_side.sh (standard library only).

    benchmarks/summarize.py results.jsonl

Prints, as Markdown: the full pass (median step time of every implementation, the peer's time
over ours, peak memory), then the head-to-head rounds (each round's ratios and their median).
A ratio above 1 means spikegrad is faster.
"""
import json
import statistics
import sys

# The floor of a shd-rsnn step: the multiply-adds of the work actually done (≈ 2.0 GFLOP at
# B = 128, in proportion to B) over the two-core f32 product rate measured on the benchmark
# machine (310 GFLOP/s; see README.md).
SHD_RSNN_GFLOP_PER_SAMPLE = 2.0 / 128
PRODUCT_RATE_GFLOPS = 310.0

PEERS = ["torch-ref", "snntorch", "norse", "spikingjelly"]
OURS = "spikegrad"


# Each workload's own batch size; a run at another one is a row of its own.
DEFAULT_BATCH = {"shd-rsnn": 128, "infer": 128, "long": 32, "on-lif": 16}


def key(run):
    """(workload, n, batch) of one result line; n is None for workloads without a width, batch
    None at the workload's own batch size."""
    shape = run.get("shape") or {}
    n = run.get("n", shape.get("n"))
    batch = shape.get("B", run.get("B"))
    if batch == DEFAULT_BATCH.get(run["workload"]):
        batch = None
    return run["workload"], n, batch


def label(workload, n, batch=None):
    name = f"{workload} n = {n}" if n else workload
    return f"{name} B = {batch}" if batch else name


def read(path):
    """The full pass (a list of results) and the rounds (a list of lists of results)."""
    passes, rounds = [], []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            run = json.loads(line)
            if "head_to_head_round" in run:
                rounds.append([])
            elif rounds:
                rounds[-1].append(run)
            else:
                passes.append(run)
    return passes, rounds


def by_impl(runs, threads=2):
    """{(workload, n, batch): {impl: result}} of the runs with the given thread count."""
    table = {}
    for run in runs:
        if run.get("threads") == threads:
            table.setdefault(key(run), {})[run.get("impl", OURS)] = run
    return table


def full_pass(runs):
    table = by_impl(runs)
    print("| workload | spikegrad | " + " | ".join(PEERS) + " |")
    print("|---|---:|" + "---:|" * len(PEERS))
    for k, impls in table.items():
        ours = impls.get(OURS)
        if ours is None or len(impls) == 1:
            continue
        cells = [f"{ours['median_ms']:.1f}"]
        memory = [f"{ours['peak_rss_mb']:.0f}"]
        for peer in PEERS:
            run = impls.get(peer)
            cells.append(f"{run['median_ms']:.1f} ({run['median_ms'] / ours['median_ms']:.2f}×)"
                         if run else "—")
            memory.append(f"{run['peak_rss_mb']:.0f}" if run else "—")
        print(f"| {label(*k)}, ms | " + " | ".join(cells) + " |")
        print(f"| {label(*k)}, peak MB | " + " | ".join(memory) + " |")
    print()
    for k, impls in table.items():
        if list(impls) == [OURS]:
            run = impls[OURS]
            rate = (f", {run['samples_per_s']:,.0f} samples/s" if "samples_per_s" in run
                    else "")
            print(f"- {label(*k)}: {run['median_ms']:.1f} ms per step{rate}, "
                  f"peak {run['peak_rss_mb']:.0f} MB")
    for k, impls in table.items():
        if k[0] == "shd-rsnn" and OURS in impls:
            run = impls[OURS]
            batch = run["shape"]["B"]
            floor_ms = 1e3 * SHD_RSNN_GFLOP_PER_SAMPLE * batch / PRODUCT_RATE_GFLOPS
            print(f"- {label(*k)}: {run['median_ms']:.1f} ms against a floor of "
                  f"{floor_ms:.1f} ms: {run['median_ms'] / floor_ms:.1f}× the floor")
    one = by_impl(runs, threads=1)
    for k, impls in one.items():
        if OURS in impls and OURS in table.get(k, {}):
            t1, t2 = impls[OURS]["median_ms"], table[k][OURS]["median_ms"]
            print(f"- {label(*k)} with 1 thread: {t1:.1f} ms (2 threads {t1 / t2:.2f}× "
                  "faster)")


def head_to_head(rounds):
    ratios = {}
    for k, runs in enumerate(rounds, 1):
        for k, impls in by_impl(runs).items():
            ours = impls.get(OURS)
            for peer, run in impls.items():
                if ours is None or peer == OURS:
                    continue
                ratio = run["median_ms"] / ours["median_ms"]
                ratios.setdefault((label(*k), peer), []).append(
                    (k, ours["median_ms"], run["median_ms"], ratio))
    print("| workload | peer | rounds: spikegrad / peer ms (ratio) | median ratio | wins |")
    print("|---|---|---|---:|---:|")
    for (name, peer), rows in ratios.items():
        detail = ", ".join(f"{o:.0f} / {p:.0f} ({r:.2f})" for _, o, p, r in rows)
        median = statistics.median(r for *_, r in rows)
        wins = sum(r > 1 for *_, r in rows)
        print(f"| {name} | {peer} | {detail} | {median:.2f}× | {wins}/{len(rows)} |")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    passes, rounds = read(sys.argv[1])
    print("## Full pass (peer ms / spikegrad ms in parentheses)\n")
    full_pass(passes)
    if rounds:
        print(f"\n## Head-to-head rounds ({len(rounds)})\n")
        head_to_head(rounds)


if __name__ == "__main__":
    main()
