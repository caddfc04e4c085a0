#!/usr/bin/env python3
"""Writes the primate-reaching test fixture in the layout of the O'Doherty et al. (2017)
recordings as MATLAB v7.3 saves them, and the values spikegrad's loader must read from it.

MATLAB v7.3 files are HDF5 files after a 512-byte user block holding MATLAB's text header.
MATLAB stores arrays column-major, so an HDF5 shape is the reverse of the MATLAB size:

* ``cursor_pos``, ``target_pos``: MATLAB ``T x 2`` doubles -> HDF5 ``[2, T]`` float64
  (NeuroBench's ``primate_reaching.py`` uses ``target_pos.shape[1]`` as the step count).
* ``t``: MATLAB ``T x 1`` -> HDF5 ``[1, T]`` (NeuroBench squeezes it).
* ``spikes``: MATLAB ``channels x units`` cell -> HDF5 ``[units, channels]`` object
  references (attribute ``MATLAB_class = "cell"``) into the ``#refs#`` group. Each element
  is a ``k x 1`` double column of spike times (HDF5 ``[1, k]``) or MATLAB's empty marker:
  a uint64 dataset holding the empty array's size with ``MATLAB_empty = 1``.
* ``chan_names``: a cell of char arrays (uint16 codes), which the loader does not need.

Every dataset carries ``MATLAB_class``. Large arrays are chunked and deflated, as MATLAB does.

The expected values follow NeuroBench's ``PrimateReaching`` preprocessing with
``bin_width = stride = 0.004`` (its benchmark setting): edges
``np.arange(t[0] - 0.004, t[-1], 0.004)``, ``np.histogram`` per unit, each non-empty bin
``k`` setting column ``k + 1`` to 1, OR over the units of a channel; velocity
``np.gradient(cursor_pos, axis=1)``; segments split where ``target_pos`` changes; the split
of segments with ``train_ratio = 0.5``.

Usage: python3 scripts/make_reaching_fixture.py  (needs h5py and numpy; writes
tests/fixtures/reaching/{indy_fixture.mat,expected.json}). The output is deterministic.
"""

import json
import math
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "reaching")
STEPS = 400
CHANNELS = 6
UNITS = 3
BIN_S = 0.004
T0 = 12.3  # not a multiple of the bin width: the edges are computed like NeuroBench's
TRAIN_RATIO = 0.5


def matlab_header():
    text = (
        "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  2 12:00:00 2017 "
        "HDF5 schema 1.00 ."
    ).encode("ascii")
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    return header.ljust(512, b"\x00")


def targets():
    """Center-out style target positions: a new target every 40-90 steps."""
    rng = np.random.default_rng(7)
    pos = np.zeros((2, STEPS))
    start = 0
    while start < STEPS:
        length = int(rng.integers(40, 90))
        angle = rng.integers(0, 8) * math.pi / 4
        pos[:, start : start + length] = [[80.0 * math.cos(angle)], [80.0 * math.sin(angle)]]
        start += length
    return pos


def spike_times(t, rng):
    """Spike-time columns per (unit, channel); None for MATLAB's empty marker."""
    cells = {}
    for u in range(UNITS):
        for c in range(CHANNELS):
            if (u + c) % 5 == 4:
                cells[(u, c)] = None
                continue
            n = int(rng.integers(5, 60))
            times = np.sort(rng.uniform(t[0] - 0.03, t[-1] + 0.03, n))
            cells[(u, c)] = times
    # Hand-placed spikes: on bin edges (t[k] itself), two in one bin, one before the first
    # edge, one after the last, one on the last edge (np.histogram closes the last bin).
    edges = np.arange(t[0] - BIN_S, t[-1], BIN_S)
    special = [t[10], t[10] + 0.001, t[10] + 0.002, t[0] - 0.0041, t[-1] + 0.01, edges[-1],
               edges[0], t[5]]
    cells[(0, 0)] = np.sort(np.concatenate([cells[(0, 0)], special]))
    cells[(1, 0)] = np.sort(np.concatenate([cells[(1, 0)], [t[10] + 0.0005]]))
    return cells


def neurobench_counts(cells, t):
    """NeuroBench's binning for bin_width = 0.004: [channels, len(new_t)] of 0/1."""
    new_t = np.arange(t[0] - BIN_S, t[-1], BIN_S)
    train = np.zeros((UNITS, CHANNELS, len(new_t)), dtype=np.int8)
    for (u, c), times in cells.items():
        # NeuroBench histograms the empty marker's content (the size [0, 0]): no spikes.
        values = np.zeros(2) if times is None else times
        bins, _ = np.histogram(values, bins=new_t)
        train[u, c, np.nonzero(bins)[0] + 1] = 1
    return np.bitwise_or.reduce(train, axis=0), len(new_t)


def segments(target_pos):
    diff = np.diff(target_pos, axis=1, append=target_pos[:, -1].reshape(2, 1))
    flags = np.nonzero(np.sum(np.abs(diff), axis=0))[0]
    idx = np.append(np.insert(flags, 0, 0), [target_pos.shape[1]])
    return np.transpose(np.array([idx[:-1], idx[1:]]))


def split(segs):
    n = segs.shape[0]
    train_len = math.floor(TRAIN_RATIO * n)
    val_len = math.floor((n - train_len) / 2)
    out = {"train": [], "valid": [], "test": []}
    for i in range(n):
        name = "train" if i < train_len else "valid" if i < train_len + val_len else "test"
        out[name] += list(range(int(segs[i, 0]), int(segs[i, 1])))
    return out


def set_class(obj, name):
    obj.attrs.create("MATLAB_class", np.bytes_(name))


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "indy_fixture.mat")
    rng = np.random.default_rng(2017)
    t = T0 + BIN_S * np.arange(STEPS)
    angle = np.cumsum(rng.normal(0, 0.05, STEPS))
    cursor = np.stack([30 * np.cos(angle) + np.cumsum(rng.normal(0, 0.3, STEPS)),
                       30 * np.sin(angle) + np.cumsum(rng.normal(0, 0.3, STEPS))])
    target_pos = targets()
    cells = spike_times(t, rng)

    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        refs = f.create_group("#refs#")
        empty = refs.create_dataset("a", data=np.array([0, 0], dtype=np.uint64))
        set_class(empty, "double")
        empty.attrs.create("MATLAB_empty", np.uint8(1))
        ref_grid = np.empty((UNITS, CHANNELS), dtype=h5py.ref_dtype)
        names = iter(
            [a + b for a in "bcdefghij" for b in "abcdefghijklmnopqrstuvwxyz"]
        )
        for (u, c), times in cells.items():
            if times is None:
                ref_grid[u, c] = empty.ref
                continue
            big = len(times) > 40
            ds = refs.create_dataset(
                next(names), data=times.reshape(1, -1),
                compression="gzip" if big else None, chunks=(1, 16) if big else None)
            set_class(ds, "double")
            ref_grid[u, c] = ds.ref
        spikes = f.create_dataset("spikes", data=ref_grid)
        set_class(spikes, "cell")
        name_refs = np.empty((1, CHANNELS), dtype=h5py.ref_dtype)
        for c in range(CHANNELS):
            codes = np.array([ord(ch) for ch in f"elec{c + 1}"], dtype=np.uint16)
            ds = refs.create_dataset(next(names), data=codes.reshape(-1, 1))
            set_class(ds, "char")
            ds.attrs.create("MATLAB_int_decode", np.uint32(2))
            name_refs[0, c] = ds.ref
        set_class(f.create_dataset("chan_names", data=name_refs), "cell")
        for key, value in [("cursor_pos", cursor), ("target_pos", target_pos),
                           ("t", t.reshape(1, -1))]:
            ds = f.create_dataset(key, data=value, compression="gzip", chunks=(value.shape[0], 64))
            set_class(ds, "double")
    with open(path, "r+b") as f:
        f.write(matlab_header())

    counts, edges = neurobench_counts(cells, t)
    assert edges >= STEPS, "the fixture's edges must cover every step"
    velocity = np.gradient(cursor, axis=1)
    segs = segments(target_pos)
    expected = {
        "steps": STEPS,
        "channels": CHANNELS,
        "units": UNITS,
        # Per channel, the steps whose 4 ms bin holds a spike (columns of NeuroBench's
        # spike train below STEPS).
        "active_steps": [np.nonzero(counts[c, :STEPS])[0].tolist() for c in range(CHANNELS)],
        "velocity": velocity.T.reshape(-1).tolist(),  # [T, 2] row-major, float64
        "segments": segs.tolist(),
        "train_ratio": TRAIN_RATIO,
        "split": split(segs),
        "spike_counts": {f"{u},{c}": (0 if v is None else len(v)) for (u, c), v in cells.items()},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
