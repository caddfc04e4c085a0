"""spikegrad from Python, end to end: train the default task, look at the results, run the
trained network on your own spikes, and turn a WAV file into SHD-layout spikes.

    python python/examples/quickstart.py [FILE.wav]

Plots are drawn with matplotlib when it is installed (``pip install matplotlib``).
"""

import sys
import wave
from pathlib import Path

import numpy as np

import spikegrad

# 1. Train the default task (stork's randman example) for a few epochs. A config is a path,
#    TOML text or a dict; overrides set values by dotted path, as `--set` does.
run = spikegrad.train(
    overrides={"training.epochs": 5}, out="runs/quickstart", progress=True, force=True
)
print("test accuracy:", run.final["test_accuracy"])
print("per epoch:", [round(m["valid_accuracy"], 3) for m in run.metrics])
print("eval:", run.evaluate()["cost"]["synops"])
print("plots:", [p.name for p in run.plot()])

# 2. The trained network on numpy spikes: [T, B, N] of 0/1.
net = run.network()
rng = np.random.default_rng(0)
spikes = rng.random((100, 4, net.inputs)) < 0.05
out = net.forward(spikes)
print("readout traces:", out["readout"].shape, "hidden spikes:", out["hidden"][0].sum())

try:
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
    t, n = np.nonzero(out["hidden"][0][:, 0, :])
    top.plot(t * net.dt, n, "k.", markersize=2)
    top.set_ylabel("hidden neuron")
    bottom.plot(np.arange(out["readout"].shape[0]) * net.dt, out["readout"][:, 0, :])
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("readout membrane")
    fig.savefig("runs/quickstart/forward.png", dpi=120)
    print("figure: runs/quickstart/forward.png")
except ImportError:
    print("(matplotlib is not installed: no figure)")

# 3. Audio to spikes with the Heidelberg cochlea model, written as an SHD-layout file.
if len(sys.argv) > 1:
    with wave.open(sys.argv[1], "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        frames = w.readframes(w.getnframes())
    if width != 2:
        sys.exit("this example reads 16-bit WAV files")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels) / 32768.0
    times, units = spikegrad.audio_to_spikes(pcm, rate, seed=0)
    out_file = Path("runs/quickstart") / (Path(sys.argv[1]).stem + ".h5")
    spikegrad.write_shd(out_file, [times.astype(np.float32)], [units], [0])
    print(f"{times.size} spikes on {len(np.unique(units))} channels -> {out_file}")
