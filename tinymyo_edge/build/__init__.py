"""The lowering: int8 ONNX (or a Program) -> C for the host and GAP9 (build), host validation and runs."""

from .core import MANIFEST, MODEL_FILE, TARGETS, BuildResult, build, build_program
from ..validate import ValidationResult, run_host, validate  # noqa: E402  (validate imports .core)

__all__ = ["build", "build_program", "validate", "run_host", "BuildResult", "ValidationResult", "TARGETS",
           "MANIFEST", "MODEL_FILE"]
