"""Type stubs of the Rust extension module (the API is ``spikegrad``'s)."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

class SpikegradError(Exception): ...

def resolve_config(
    toml: Optional[str] = None,
    json: Optional[str] = None,
    path: Optional[str] = None,
    overrides: List[str] = ...,
) -> str: ...
def train(config: str, out: str, force: bool, progress: bool) -> None: ...
def evaluate(
    run: str, int8: bool = False, integer: bool = False, substrate_chips: Optional[int] = None
) -> str: ...
def plot(run: str) -> None: ...
def nir_export(run: str, out: str, integer: bool = False) -> str: ...
def nir_import(
    file: str,
    dt: float,
    out: str,
    discretisation: Optional[str] = None,
    data: Optional[str] = None,
    max_time_s: float = 1.4,
    force: bool = False,
    norse_export_dt: Optional[float] = None,
    reset: Optional[str] = None,
) -> str: ...
def reproduce(name: str, quick: bool = False, out: Optional[str] = None) -> str: ...
def reproductions() -> List[Tuple[str, str, str]]: ...
def read_shd(path: str, channels: int = 700) -> Dict[str, Any]: ...
def write_shd(
    path: str,
    times: List[npt.NDArray[np.float32]],
    units: List[npt.NDArray[np.uint32]],
    labels: List[int],
    keys: Optional[List[str]] = None,
    speakers: Optional[List[int]] = None,
    channels: Optional[int] = None,
    duration_s: float = 1.4,
) -> None: ...
def audio_to_spikes(
    samples: npt.NDArray[np.float64], rate_hz: float, seed: int = 0, channels: int = 700
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]: ...

class Network:
    @staticmethod
    def load(run: str) -> "Network": ...
    @property
    def inputs(self) -> int: ...
    @property
    def outputs(self) -> int: ...
    @property
    def dt_s(self) -> float: ...
    @property
    def hidden_sizes(self) -> List[int]: ...
    def forward_u8(self, spikes: npt.NDArray[np.uint8], batch_size: int) -> Dict[str, Any]: ...
    def forward_f32(
        self, spikes: npt.NDArray[np.float32], batch_size: int
    ) -> Dict[str, Any]: ...
    def forward_events(
        self,
        times: List[npt.NDArray[np.float32]],
        units: List[npt.NDArray[np.uint32]],
        steps: int,
        batch_size: int,
    ) -> Dict[str, Any]: ...
    def tensors(self) -> Dict[str, npt.NDArray[np.float32]]: ...
