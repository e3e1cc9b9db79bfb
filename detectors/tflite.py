"""Run a .tflite model with either ai-edge-litert or OpenCV DNN behind one small interface.

ai-edge-litert is the default: measured here it runs the MediaPipe models about twice as
fast as OpenCV DNN (see bench/bench_detectors.py). OpenCV stays available for comparison
and as a fallback. Neither runtime is thread-safe per instance, so callers keep one
`TFLiteModel` per thread (see `detectors.models.shared_models`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

log = logging.getLogger(__name__)

Runtime = Literal["litert", "opencv"]


class TFLiteModel:
    """One loaded model with a single float32 NHWC input; outputs returned by name."""

    def __init__(self, path: Path, runtime: Runtime = "litert", threads: int = 1) -> None:
        self.path = path
        self.runtime: Runtime = runtime
        if runtime == "litert":
            from ai_edge_litert.interpreter import Interpreter

            # One thread per model: the server runs many sessions in parallel worker
            # threads, so parallelism comes from sessions, not from inside one model.
            self._interp = Interpreter(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
            inp = self._interp.get_input_details()[0]
            self._input_index = int(inp["index"])
            self.input_shape = tuple(int(v) for v in inp["shape"])
            self._outputs = {
                str(d["name"]): int(d["index"]) for d in self._interp.get_output_details()
            }
        elif runtime == "opencv":
            # The default engine of OpenCV 5 silently returns only the first output of
            # these models; the classic engine returns all of them.
            self._net = cv2.dnn.readNetFromTFLite(str(path), engine=cv2.dnn.ENGINE_CLASSIC)
            self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._names = list(self._net.getUnconnectedOutLayersNames())
            self.input_shape = _tflite_input_shape(path)
        else:  # pragma: no cover - guarded by the Literal type
            raise ValueError(f"unknown TFLite runtime {runtime!r}")

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the input tensor."""
        return self.input_shape[2], self.input_shape[1]

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run on one NHWC float32 tensor; returns every output by its tensor name."""
        if self.runtime == "litert":
            self._interp.set_tensor(self._input_index, tensor)
            self._interp.invoke()
            return {name: self._interp.get_tensor(i) for name, i in self._outputs.items()}
        # OpenCV's TFLite importer takes NCHW blobs and transposes back internally.
        self._net.setInput(np.ascontiguousarray(tensor.transpose(0, 3, 1, 2)))
        values = self._net.forward(self._names)
        return {name: np.asarray(v) for name, v in zip(self._names, values, strict=True)}


def _tflite_input_shape(path: Path) -> tuple[int, ...]:
    """Input shape for the OpenCV path, which does not report it: read it with litert."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    return tuple(int(v) for v in interp.get_input_details()[0]["shape"])
