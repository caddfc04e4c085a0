"""spikegrad from Python: train spiking networks from a config, run trained networks on numpy
spikes, read and write the field's files, convert audio to spikes, re-run reproductions.

Everything runs in spikegrad's Rust core; errors are :class:`SpikegradError` with the messages
the ``spikegrad`` command prints.

>>> import spikegrad
>>> run = spikegrad.train({"training": {"epochs": 2}}, out="runs/quick")   # doctest: +SKIP
>>> run.final["test_accuracy"]                                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import SpikegradError

__all__ = [
    "SpikegradError",
    "Run",
    "Network",
    "train",
    "read_shd",
    "write_shd",
    "audio_to_spikes",
    "nir_export",
    "nir_import",
    "reproduce",
    "reproductions",
]

PathLike = Union[str, "os.PathLike[str]"]
Config = Union[PathLike, str, Mapping[str, Any], None]


def _overrides(overrides: Union[Mapping[str, Any], Sequence[str], None]) -> List[str]:
    """``{"training.epochs": 3}`` or ``["training.epochs=3"]`` as ``key=value`` strings."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={_toml_value(value)}" for key, value in overrides.items()]
    return [str(item) for item in overrides]


def _toml_value(value: Any) -> str:
    """A Python value as TOML text for an override (JSON is TOML for these types)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _resolve(config: Config, overrides: List[str]) -> str:
    if config is None:
        return _native.resolve_config(overrides=overrides)
    if isinstance(config, Mapping):
        return _native.resolve_config(json=json.dumps(config), overrides=overrides)
    if isinstance(config, os.PathLike) or _names_a_file(config):
        return _native.resolve_config(path=os.fspath(config), overrides=overrides)
    return _native.resolve_config(toml=config, overrides=overrides)


def _names_a_file(text: str) -> bool:
    """Whether a config string is a path (one line ending in ``.toml``, or an existing file)
    rather than TOML text."""
    return "\n" not in text and (text.endswith(".toml") or Path(text).is_file())


def _default_out(config: Config) -> Path:
    """``runs/<file stem>`` for a config file, ``runs/randman`` for the default task, else
    ``runs/python``."""
    if config is None:
        return Path("runs") / "randman"
    if isinstance(config, os.PathLike) or (
        isinstance(config, str) and _names_a_file(config)
    ):
        return Path("runs") / Path(os.fspath(config)).stem
    return Path("runs") / "python"


def train(
    config: Config = None,
    out: Optional[PathLike] = None,
    overrides: Union[Mapping[str, Any], Sequence[str], None] = None,
    progress: bool = True,
    force: bool = False,
) -> "Run":
    """Trains a network as ``spikegrad train`` does and returns its :class:`Run`.

    ``config`` is a path to a TOML file, TOML text, a ``dict`` (missing keys take their
    defaults, as in a TOML file), or ``None`` for the default task (randman). ``overrides``
    sets values by dotted path, as ``--set`` does: ``{"training.epochs": 3}``. ``out``
    defaults to ``runs/<config name>``; an existing run there is refused unless ``force``.
    """
    resolved = _resolve(config, _overrides(overrides))
    directory = Path(os.fspath(out)) if out is not None else _default_out(config)
    _native.train(resolved, str(directory), force, progress)
    return Run.open(directory)


class Run:
    """A run directory: its config, metrics per epoch, final results and best weights."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, path: PathLike) -> "Run":
        """The run in ``path`` (a directory written by ``train`` or ``spikegrad train``)."""
        directory = Path(os.fspath(path))
        if not (directory / "config.toml").is_file():
            raise SpikegradError(f"{directory}: not a run directory (no config.toml)")
        return cls(directory)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def config(self) -> str:
        """The resolved config, as TOML text (``tomllib.loads`` makes it a dict)."""
        return (self.path / "config.toml").read_text()

    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """One dict per epoch (``metrics.jsonl``): losses, accuracies, rates, seconds."""
        path = self.path / "metrics.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @property
    def final(self) -> Dict[str, Any]:
        """The test results of the best weights (``final.json``)."""
        path = self.path / "final.json"
        if not path.is_file():
            raise SpikegradError(f"{self.path}: no final.json (the run has not finished)")
        return json.loads(path.read_text())

    def evaluate(
        self, int8: bool = False, integer: bool = False, substrate_chips: Optional[int] = None
    ) -> Dict[str, Any]:
        """``spikegrad eval``: the best weights on the test split (as trained, quantized to
        int8, in integers, or on ``substrate_chips`` emulated analog chips)."""
        return json.loads(
            _native.evaluate(str(self.path), int8, integer, substrate_chips)
        )

    def plot(self) -> List[Path]:
        """``spikegrad plot``: PNG plots and ``summary.txt`` in ``RUN/plots/``; returns the
        PNG files."""
        _native.plot(str(self.path))
        return sorted((self.path / "plots").glob("*.png"))

    def network(self) -> "Network":
        """The best weights as a :class:`Network`."""
        return Network.load(self.path)


class Network:
    """A trained (or NIR-imported) spiking network, run forward on numpy spikes."""

    def __init__(self, native: "_native.Network") -> None:
        self._native = native

    @classmethod
    def load(cls, run_dir: PathLike) -> "Network":
        """The best weights of a run directory."""
        return cls(_native.Network.load(os.fspath(run_dir)))

    @property
    def inputs(self) -> int:
        """Input channels."""
        return self._native.inputs

    @property
    def outputs(self) -> int:
        """Readout units."""
        return self._native.outputs

    @property
    def dt(self) -> float:
        """The time step in seconds."""
        return self._native.dt_s

    @property
    def hidden_sizes(self) -> List[int]:
        """Neurons per hidden layer."""
        return self._native.hidden_sizes

    def forward(
        self,
        spikes: Union[np.ndarray, Sequence[Tuple[np.ndarray, np.ndarray]]],
        dt: Optional[float] = None,
        steps: Optional[int] = None,
        batch_size: int = 64,
    ) -> Dict[str, Any]:
        """Runs the network as ``spikegrad run`` does.

        ``spikes`` is a ``[T, B, N]`` array of 0/1 (bool, uint8 or float32; read without a
        copy when C-contiguous) or a list of ``(times_s, units)`` pairs, one per sample, binned
        at the network's time step into ``steps`` steps (default: up to the last spike).
        ``dt``, when given, must be the network's time step. Returns ``hidden`` (one uint8
        ``[T, B, size]`` array per layer), ``readout`` (float32 ``[T, B, outputs]``: membrane
        traces, or spikes for a spiking readout) and ``dt_s``.
        """
        if dt is not None and not np.isclose(dt, self.dt, rtol=1e-9, atol=0.0):
            raise SpikegradError(
                f"forward: dt = {dt} s, but the network runs at {self.dt} s"
            )
        if isinstance(spikes, np.ndarray):
            if spikes.ndim != 3:
                raise SpikegradError(
                    f"forward: spikes must be [T, B, N], got shape {spikes.shape}"
                )
            if spikes.dtype == np.bool_:
                return self._native.forward_u8(
                    np.ascontiguousarray(spikes).view(np.uint8), batch_size
                )
            if spikes.dtype == np.uint8:
                return self._native.forward_u8(np.ascontiguousarray(spikes), batch_size)
            return self._native.forward_f32(
                np.ascontiguousarray(spikes, dtype=np.float32), batch_size
            )
        times = [np.ascontiguousarray(t, dtype=np.float32) for t, _ in spikes]
        units = [np.ascontiguousarray(u, dtype=np.uint32) for _, u in spikes]
        if steps is None:
            last = max((float(t.max()) for t in times if t.size), default=0.0)
            steps = int(np.floor(last / self.dt)) + 1
        return self._native.forward_events(times, units, steps, batch_size)

    def tensors(self) -> Dict[str, np.ndarray]:
        """Every parameter tensor by name (``hidden.0.w_in``, ``readout.w``, ...)."""
        return self._native.tensors()


def read_shd(path: PathLike, channels: int = 700) -> Dict[str, Any]:
    """An SHD/SSC-layout HDF5 file: ``times`` and ``units`` (one array per sample),
    ``labels``, ``keys`` (class names) and ``speakers`` where the file has them."""
    return _native.read_shd(os.fspath(path), channels)


def write_shd(
    path: PathLike,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels: Sequence[int],
    keys: Optional[Sequence[str]] = None,
    speakers: Optional[Sequence[int]] = None,
    channels: Optional[int] = None,
    duration_s: float = 1.4,
) -> None:
    """Writes an SHD-layout file: per sample its spike ``times`` (s) and ``units`` and its
    label; ``keys`` names the classes (``/extra/keys``), ``speakers`` fills
    ``/extra/speaker``."""
    _native.write_shd(
        os.fspath(path),
        [np.ascontiguousarray(t, dtype=np.float32) for t in times],
        [np.ascontiguousarray(u, dtype=np.uint32) for u in units],
        [int(label) for label in labels],
        None if keys is None else [str(k) for k in keys],
        None if speakers is None else [int(s) for s in speakers],
        channels,
        duration_s,
    )


def audio_to_spikes(
    samples: np.ndarray, rate_hz: float, seed: int = 0, channels: int = 700
) -> Tuple[np.ndarray, np.ndarray]:
    """The Heidelberg cochlea model (the model that made SHD) on mono ``samples`` (floats in
    [-1, 1]; several channels are averaged) at ``rate_hz``: spike ``(times_s, channels)``,
    the spikes ``spikegrad audio2spikes`` writes for one file with ``--seed seed``."""
    audio = np.asarray(samples, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return _native.audio_to_spikes(np.ascontiguousarray(audio), float(rate_hz), seed, channels)


def nir_export(run_dir: PathLike, path: PathLike, integer: bool = False) -> Dict[str, Any]:
    """``spikegrad nir export``: a run's best weights as a NIR file."""
    return json.loads(_native.nir_export(os.fspath(run_dir), os.fspath(path), integer))


def nir_import(
    path: PathLike,
    dt: float,
    out: PathLike,
    discretisation: Optional[str] = None,
    data: Optional[PathLike] = None,
    force: bool = False,
    norse_export_dt: Optional[float] = None,
    reset: Optional[str] = None,
) -> Dict[str, Any]:
    """``spikegrad nir import``: a NIR graph as a run directory (trainable further);
    returns a summary. ``norse_export_dt``: the file comes from Norse's exporter run with
    this dt (seconds), whose time constants are dt * tau and are rescaled. ``reset``:
    ``"zero"``, ``"subtract"`` or ``"subtract_after_leak"`` (snnTorch's default neurons;
    NIR cannot express a reset by subtraction; default: the nodes' ``reset_mode`` metadata,
    else ``"zero"``)."""
    return json.loads(
        _native.nir_import(
            os.fspath(path),
            dt,
            os.fspath(out),
            discretisation,
            None if data is None else os.fspath(data),
            1.4,
            force,
            norse_export_dt,
            reset,
        )
    )


def reproduce(name: str, quick: bool = False, out: Optional[PathLike] = None) -> Dict[str, Any]:
    """``spikegrad reproduce NAME``: ``metrics``, the published ``anchor`` values, the
    ``setting``, the ``runs`` and ``figures`` written, and ``seconds``."""
    return json.loads(
        _native.reproduce(name, quick, None if out is None else os.fspath(out))
    )


def reproductions() -> List[Tuple[str, str, str]]:
    """Every reproduction: ``(name, summary, paper)``."""
    return _native.reproductions()
