"""The Python API against the command line: the same runs, results, files and errors."""

import json
import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

import spikegrad

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    "training.epochs": 2,
    "training.batch_size": 50,
    "data.source.nb_samples": 40,
}


def binary():
    """The `spikegrad` command built from this checkout (SPIKEGRAD_BIN overrides)."""
    path = Path(os.environ.get("SPIKEGRAD_BIN", REPO / "target" / "release" / "spikegrad"))
    if not path.is_file():
        pytest.skip(f"the spikegrad command is not built ({path}); run cargo build --release")
    return str(path)


def cli(*args, cwd=None):
    return subprocess.run([binary(), *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    return spikegrad.train(overrides=SMALL, out=out, progress=False)


def test_train_writes_a_run_with_metrics_and_results(run):
    assert len(run.metrics) == 2
    assert run.metrics[-1]["epoch"] == 2
    final = run.final
    assert 0.0 <= final["test_accuracy"] <= 1.0
    assert final["epochs"] == 2
    assert "epochs = 2" in run.config
    assert spikegrad.Run.open(run.path).final == final


def test_configs_come_as_dicts_toml_text_or_files(tmp_path):
    text = "[training]\nepochs = 1\nbatch_size = 50\n[data.source]\nkind = \"randman\"\nnb_samples = 20\n"
    a = spikegrad.train(text, out=tmp_path / "a", progress=False)
    b = spikegrad.train(
        {"training": {"epochs": 1, "batch_size": 50}, "data": {"source": {"kind": "randman", "nb_samples": 20}}},
        out=tmp_path / "b",
        progress=False,
    )
    (tmp_path / "c.toml").write_text(text)
    c = spikegrad.train(str(tmp_path / "c.toml"), out=tmp_path / "c", progress=False)
    assert a.final["test_accuracy"] == b.final["test_accuracy"] == c.final["test_accuracy"]
    losses = [[m["train_loss"] for m in r.metrics] for r in (a, b, c)]
    assert losses[0] == losses[1] == losses[2]


def test_an_existing_run_is_refused_without_force(run):
    with pytest.raises(spikegrad.SpikegradError, match="already holds a run"):
        spikegrad.train(overrides=SMALL, out=run.path, progress=False)


def test_errors_carry_the_command_lines_message(tmp_path):
    with pytest.raises(spikegrad.SpikegradError) as caught:
        spikegrad.train(overrides={"network.hidden.0.tau_mem_ms": -5}, out=tmp_path / "x")
    message = str(caught.value)
    assert "network.hidden[0].tau_mem_ms" in message
    done = cli("train", "--out", str(tmp_path / "y"), "--set", "network.hidden.0.tau_mem_ms=-5")
    assert done.returncode != 0
    assert done.stderr.strip() == f"error: {message}"
    with pytest.raises(spikegrad.SpikegradError, match="bogus"):
        spikegrad.train({"training": {"bogus": 1}}, out=tmp_path / "z")


def test_evaluate_is_spikegrad_eval(run):
    ours = run.evaluate()
    theirs = json.loads(cli("eval", "--run", str(run.path)).stdout)
    assert ours == theirs
    assert ours["test_accuracy"] == run.final["test_accuracy"]
    int8 = run.evaluate(int8=True)
    assert int8["cost"]["quantization"] == "int8"


def test_plot_writes_pngs(run):
    files = run.plot()
    assert files and all(f.suffix == ".png" and f.stat().st_size > 0 for f in files)


def random_spikes(net, steps=30, batch=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((steps, batch, net.inputs)) < 0.1


def test_forward_gives_the_readout_traces_of_spikegrad_run_bitwise(run, tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py reads the output of spikegrad run")
    net = run.network()
    spikes = random_spikes(net)
    ours = net.forward(spikes)
    steps, batch, _ = spikes.shape
    times, units = [], []
    for b in range(batch):
        t, n = np.nonzero(spikes[:, b, :])
        times.append(((t + 0.5) * net.dt).astype(np.float32))
        units.append(n.astype(np.uint32))
    spikegrad.write_shd(tmp_path / "in.h5", times, units, [0] * batch, channels=net.inputs)
    done = cli(
        "run", "--model", str(run.path), "--input", str(tmp_path / "in.h5"),
        "--out", str(tmp_path / "out.h5"), "--steps", str(steps),
    )
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "out.h5", "r") as f:
        membrane = f["readout/membrane"][...]
        hidden = f["hidden/0/spikes"][...]
    assert ours["readout"].dtype == np.float32
    assert ours["readout"].shape == (steps, batch, net.outputs)
    assert np.array_equal(ours["readout"], membrane)
    assert np.array_equal(ours["hidden"][0], hidden)
    assert ours["hidden"][0].sum() > 0


def test_every_input_form_gives_the_same_output(run):
    net = run.network()
    spikes = random_spikes(net, seed=1)
    as_bool = net.forward(spikes)["readout"]
    as_u8 = net.forward(spikes.astype(np.uint8))["readout"]
    as_f32 = net.forward(spikes.astype(np.float32), dt=net.dt)["readout"]
    events = []
    for b in range(spikes.shape[1]):
        t, n = np.nonzero(spikes[:, b, :])
        events.append(((t + 0.5) * net.dt, n))
    as_events = net.forward(events, steps=spikes.shape[0])["readout"]
    for other in (as_u8, as_f32, as_events):
        assert np.array_equal(as_bool, other)
    batched = net.forward(spikes, batch_size=2)["readout"]
    assert np.array_equal(as_bool, batched)


def test_forward_refuses_bad_input(run):
    net = run.network()
    with pytest.raises(spikegrad.SpikegradError, match="channels"):
        net.forward(np.zeros((4, 1, net.inputs + 1), dtype=np.uint8))
    with pytest.raises(spikegrad.SpikegradError, match="0 or 1"):
        net.forward(np.full((4, 1, net.inputs), 2.0, dtype=np.float32))
    with pytest.raises(spikegrad.SpikegradError, match="dt"):
        net.forward(np.zeros((4, 1, net.inputs), dtype=np.uint8), dt=1.0)
    with pytest.raises(spikegrad.SpikegradError, match="unit"):
        net.forward([(np.array([0.001]), np.array([net.inputs]))], steps=3)


def test_tensors_are_the_checkpoints(run):
    tensors = run.network().tensors()
    assert tensors["hidden.0.w_in"].shape == (20, 128)
    assert tensors["readout.w"].dtype == np.float32


def test_shd_files_round_trip_through_h5py(tmp_path):
    h5py = pytest.importorskip("h5py", reason="the round trip needs h5py")
    times = [np.array([0.1, 0.5, 0.2], dtype=np.float32), np.array([], dtype=np.float32)]
    units = [np.array([3, 0, 699], dtype=np.uint32), np.array([], dtype=np.uint32)]
    path = tmp_path / "ours.h5"
    spikegrad.write_shd(path, times, units, [1, 0], keys=["a", "b"], speakers=[7, 8])
    with h5py.File(path, "r") as f:
        assert list(f["labels"][...]) == [1, 0]
        assert np.allclose(f["spikes/times"][0], times[0])
        assert list(f["spikes/units"][0]) == [3, 0, 699]
        assert list(f["extra/speaker"][...]) == [7, 8]
    back = spikegrad.read_shd(path)
    assert [list(u) for u in back["units"]] == [[3, 0, 699], []]
    assert back["keys"] == ["a", "b"]
    assert list(back["speakers"]) == [7, 8]

    # A file written by h5py in SHD's layout (float16 times as in the real files).
    theirs = tmp_path / "theirs.h5"
    with h5py.File(theirs, "w") as f:
        vlen_t = h5py.vlen_dtype(np.float16)
        vlen_u = h5py.vlen_dtype(np.uint16)
        t = f.create_dataset("spikes/times", (2,), dtype=vlen_t)
        u = f.create_dataset("spikes/units", (2,), dtype=vlen_u)
        t[0], t[1] = np.array([0.25, 0.5], np.float16), np.array([1.0], np.float16)
        u[0], u[1] = np.array([5, 6], np.uint16), np.array([0], np.uint16)
        f["labels"] = np.array([2, 1], np.uint16)
    got = spikegrad.read_shd(theirs)
    assert list(got["labels"]) == [2, 1]
    assert [list(x) for x in got["times"]] == [[0.25, 0.5], [1.0]]
    assert [list(x) for x in got["units"]] == [[5, 6], [0]]
    with pytest.raises(spikegrad.SpikegradError):
        spikegrad.read_shd(tmp_path / "missing.h5")


def test_audio_to_spikes_is_spikegrad_audio2spikes(tmp_path):
    rate = 16000
    t = np.arange(int(0.12 * rate)) / rate
    signal = 0.5 * np.sin(2 * np.pi * 440 * t) * np.hanning(t.size)
    pcm = np.round(signal * 32767).astype("<i2")
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    times, channels = spikegrad.audio_to_spikes(pcm / 32768.0, rate, seed=3)
    assert times.size > 0 and times.size == channels.size
    done = cli("audio2spikes", str(wav), str(tmp_path / "tone.h5"), "--seed", "3")
    assert done.returncode == 0, done.stderr
    theirs = spikegrad.read_shd(tmp_path / "tone.h5")
    assert np.array_equal(times.astype(np.float32), theirs["times"][0])
    assert np.array_equal(channels, theirs["units"][0])
    other, _ = spikegrad.audio_to_spikes(pcm / 32768.0, rate, seed=4)
    assert not np.array_equal(times, other)


def test_nir_export_and_import_round_trip(run, tmp_path):
    summary = spikegrad.nir_export(run.path, tmp_path / "net.nir")
    assert summary["nodes"] > 0
    back = spikegrad.nir_import(tmp_path / "net.nir", run.network().dt, tmp_path / "imported")
    assert back["hidden"] == [128]
    spikes = random_spikes(run.network(), seed=2)
    a = run.network().forward(spikes)["readout"]
    b = spikegrad.Network.load(tmp_path / "imported").forward(spikes)["readout"]
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_nir_package_reads_our_export(run, tmp_path):
    nir = pytest.importorskip("nir", reason="the nir package is not installed")
    spikegrad.nir_export(run.path, tmp_path / "net.nir")
    graph = nir.read(str(tmp_path / "net.nir"))
    assert len(graph.nodes) > 0
    # Written again by the nir package, the graph imports to the same network.
    nir.write(str(tmp_path / "again.nir"), graph)
    net = run.network()
    spikegrad.nir_import(tmp_path / "again.nir", net.dt, tmp_path / "again")
    spikes = random_spikes(net, seed=3)
    a = net.forward(spikes)["readout"]
    b = spikegrad.Network.load(tmp_path / "again").forward(spikes)["readout"]
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_reproductions_are_listed_and_run(tmp_path):
    names = [name for name, _, _ in spikegrad.reproductions()]
    assert "finger-velocity" in names and "stochastic-randman" in names
    result = spikegrad.reproduce("memory-lifetime", quick=True, out=tmp_path / "rep")
    assert result["name"] == "memory-lifetime"
    assert result["metrics"] and result["anchor"]
    with pytest.raises(spikegrad.SpikegradError, match="no reproduction"):
        spikegrad.reproduce("no-such-paper")
