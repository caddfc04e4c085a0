#!/usr/bin/env python3
"""The table of benchmarks/whole_run.sh's output (standard library only).

    benchmarks/whole_run.py whole_run.jsonl

For every round: each side's whole-run seconds (its own clock: training and evaluation, data
loaded; and wall clock: the whole process), last and best test accuracy, and the time each took
to first reach the target accuracy (the lower of the two best accuracies, so both reach it),
then the ratios (reference over spikegrad; above 1: spikegrad is faster).
"""
import json
import sys


def rounds(path):
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if "whole_run_round" in r:
                out.append({"spikegrad": [], "torch-ref": [], "wall": {}})
            elif "impl" in r:
                if "wall_seconds" in r:
                    out[-1]["wall"][r["impl"]] = r["wall_seconds"]
                if "epoch" in r or r.get("final"):
                    out[-1][r["impl"]].append(r)
    return out


def side(lines):
    curve = [(r["seconds"], r["test_acc"]) for r in lines if not r.get("final") and r["test_acc"] is not None]
    final = next(r for r in lines if r.get("final"))
    last = curve[-1][1] if curve else final["test_acc"]
    return curve, final["seconds"], last, max(a for _, a in curve)


def first_time(curve, target):
    return next(t for t, a in curve if a >= target - 1e-12)


def main(path):
    print("| round | side | seconds (own clock) | wall s | last test acc | best test acc | s to target |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for k, r in enumerate(rounds(path), 1):
        ours, ref = side(r["spikegrad"]), side(r["torch-ref"])
        target = min(ours[3], ref[3])
        times = {}
        for name, (curve, secs, last, best) in (("spikegrad", ours), ("torch-ref", ref)):
            times[name] = (secs, first_time(curve, target))
            print(f"| {k} | {name} | {secs:.1f} | {r['wall'].get(name, float('nan')):.1f} | "
                  f"{last:.4f} | {best:.4f} | {times[name][1]:.1f} |")
        whole = times["torch-ref"][0] / times["spikegrad"][0]
        to_target = times["torch-ref"][1] / times["spikegrad"][1]
        print(f"| {k} | ratio | {whole:.2f}× | "
              f"{r['wall']['torch-ref'] / r['wall']['spikegrad']:.2f}× | "
              f"{100 * (ours[2] - ref[2]):+.1f} pts | {100 * (ours[3] - ref[3]):+.1f} pts | "
              f"{to_target:.2f}× (target {target:.4f}) |")


if __name__ == "__main__":
    main(sys.argv[1])
