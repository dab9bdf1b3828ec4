"""The GAP9 application around the network code: main.c, app_config.h, the build files (Makefile front for
platform=host|rv32|gvsoc|board, CMakeLists.txt + Kconfig + sdk.config for the GAP9 SDK), a sample input with the
golden executor's output on it, and the static platform layer (gap9_app/platform). One template per file, in
templates/app/.

`write_app(outdir, program)` is called by `build(..., target="gap9")` after the network code is written; it reads
the lowering's layout of OUTDIR (network/, kernels/) and never edits those files.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..codegen.names import comment_text
from ..errors import TinyMyoError
from ..ir.program import Program
from ..resources import resource_dir
from .operating_points import DEFAULT_OPERATING_POINT, OPERATING_POINTS, get_operating_point

APP_NAME = "tinymyo"
DEFAULT_POWER_GPIO = 89  # GAP9 EVK pad used as the power-window trigger; change with POWER_GPIO=<pin> or Kconfig
# cluster stacks: defined once in memory/board.py, whose L1 reserve they are
from ..memory.board import MASTER_STACK_BYTES, WORKER_STACK_BYTES  # noqa: E402
APP_FILES = ("main.c", "app_config.h", "input_sample.h", "Makefile", "CMakeLists.txt", "sdk.config", "Kconfig")
SAMPLE_INPUT, SAMPLE_EXPECTED = "input.bin", "expected.bin"


@dataclass(frozen=True)
class NetworkCode:
    """What the application needs to know of the network code in OUTDIR (paths relative to OUTDIR)."""

    sources: tuple[str, ...]
    include_dirs: tuple[str, ...]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    flash_files: tuple[str, ...] = ()
    header: str = "network.h"
    run: str = "tm_network_run"  # void run(const float *input, float *output)
    input_size_macro: str = "TM_INPUT_SIZE"
    output_size_macro: str = "TM_OUTPUT_SIZE"
    ctc_alphabet: str = ""  # a CTC speech model: its characters (blank excluded); the app prints the greedy text

    @property
    def ctc(self) -> bool:
        return bool(self.ctc_alphabet)

    @property
    def ctc_blank(self) -> int:
        return len(self.ctc_alphabet)

    @property
    def classify(self) -> bool:
        """One row of scores: print the predicted class."""
        return len(self.output_shape) <= 2 and int(np.prod(self.output_shape[:-1])) == 1

    @property
    def input_shape_text(self) -> str:
        return " x ".join(map(str, self.input_shape))

    @property
    def output_shape_text(self) -> str:
        return " x ".join(map(str, self.output_shape))


def network_code_in(outdir: Path, program: Program) -> NetworkCode:
    """The lowering's layout: network/{network.c,weights.c,...}, kernels/src/*.c, kernels/inc/ (build/core.py)."""
    outdir = Path(outdir)
    network = sorted(p.relative_to(outdir).as_posix() for p in (outdir / "network").glob("*.c"))
    kernels = sorted(p.relative_to(outdir).as_posix() for p in (outdir / "kernels" / "src").glob("*.c"))
    if "network/network.c" not in network:
        raise TinyMyoError(f"{outdir}: no network/network.c: write the network code (build) before the app")
    flash = tuple(p.relative_to(outdir).as_posix() for p in sorted((outdir / "network").glob("*.bin")))
    return NetworkCode(sources=tuple(network + kernels), include_dirs=("network", "kernels/inc"),
                       input_shape=tuple(program.tensors[program.input].shape),
                       output_shape=tuple(program.tensors[program.output].shape), flash_files=flash,
                       ctc_alphabet=_ctc_alphabet(program))


def _ctc_alphabet(program: Program) -> str:
    """The characters of a CTC speech program (quant.speech_builder records its config), else ""."""
    text = program.metadata.get("speech_config")
    if not text or json.loads(text).get("head") != "ctc":
        return ""
    from ..model.speech import CTC_CHARS

    return CTC_CHARS


# The GAP9 SDK build's platform layer (paths relative to OUTDIR): the shared files, the GAP9 SDK files and the PMSIS
# transfers (tm_xfer.h on PMSIS). Enumerated, never listed by hand, so a new platform file is built (CMakeLists.txt)
# and compile-checked (tests) at once. pmsis/pulp_open/ is the pulp-open stand-in and never part of a GAP9 build.
GAP9_PLATFORM_DIRS = (".", "gap9", "pmsis")


def gap9_platform_sources(platform_dir: Path) -> list[str]:
    """platform/*.c, platform/gap9/*.c, platform/pmsis/*.c of a platform folder, as paths 'platform/...'."""
    platform_dir = Path(platform_dir)
    return sorted(f"platform/{p.relative_to(platform_dir).as_posix()}"
                  for d in GAP9_PLATFORM_DIRS for p in (platform_dir / d).glob("*.c"))


def sample_window(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A deterministic synthetic EMG-like window (C, T) for the embedded sample (never used for accuracy)."""
    from ..synthetic import synthetic_emg

    if len(shape) != 2:
        raise TinyMyoError(f"the app's sample input must be (channels, samples), the program's input is {shape}")
    x, _ = synthetic_emg(1, channels=shape[0], samples=shape[1], seed=seed)
    return x[0]


def _provenance(outdir: Path) -> str:
    """One comment line: tool version and, when build.json is there, the model and its hash."""
    text = f"Generated by tinymyo-edge {__version__} (tinymyo_edge/targets/app.py). Do not edit: rebuild instead."
    manifest = outdir / "build.json"
    if manifest.is_file():
        info = json.loads(manifest.read_text())
        text += f" Model: {info.get('model') or 'a Program object'}, sha256 {info.get('model_sha256', '?')}."
    return comment_text(text, 400)


def _words(values: np.ndarray) -> list[str]:
    return [f"0x{w:08x}" for w in np.ascontiguousarray(values, dtype="<f4").reshape(-1).view("<u4")]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "app")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
                              trim_blocks=True, lstrip_blocks=True)


def write_app(outdir, program: Program, *, net: NetworkCode | None = None, sample: np.ndarray | None = None,
              operating_point: str | None = None, power_gpio: int = DEFAULT_POWER_GPIO) -> list[Path]:
    """Write the application files into OUTDIR (which already holds the network code); returns the paths.

    sample: the float32 input window (C, T) stored as input.bin and embedded in input_sample.h, with the golden
    executor's output on it as expected.bin (default: a synthetic window). operating_point: the default one
    compiled in (a name of operating_points.OPERATING_POINTS); every point stays selectable at make time."""
    outdir = Path(outdir)
    net = net or network_code_in(outdir, program)
    default_op = get_operating_point(operating_point or DEFAULT_OPERATING_POINT)
    x = np.ascontiguousarray(sample if sample is not None else sample_window(net.input_shape), dtype=np.float32)
    if x.shape != tuple(net.input_shape):
        raise TinyMyoError(f"sample input has shape {x.shape}, the network expects {tuple(net.input_shape)}")
    expected = np.ascontiguousarray(program.run(x)[program.output], dtype=np.float32)
    context = dict(
        provenance=_provenance(outdir), net=net, app_name=APP_NAME, default_op=default_op,
        operating_points=list(OPERATING_POINTS.values()), power_gpio=int(power_gpio),
        master_stack=MASTER_STACK_BYTES, worker_stack=WORKER_STACK_BYTES,
        network_srcs=list(net.sources), network_inc=list(net.include_dirs), flash_files=list(net.flash_files),
        platform_srcs=gap9_platform_sources(resource_dir("gap9_app") / "platform"),
        input_shape_text=net.input_shape_text, input_words=_words(x),
        expected_words=_words(expected),
        sample_note=f"Sample input {SAMPLE_INPUT} and the golden executor's output on it ({SAMPLE_EXPECTED}).",
    )
    env = _environment()
    written = []
    for name in APP_FILES:
        path = outdir / name
        path.write_text(env.get_template(f"{name}.j2").render(**context))
        written.append(path)
    for name, values in ((SAMPLE_INPUT, x), (SAMPLE_EXPECTED, expected)):
        values.astype("<f4").tofile(outdir / name)
        written.append(outdir / name)
    platform = outdir / "platform"
    if platform.exists():
        shutil.rmtree(platform)
    shutil.copytree(resource_dir("gap9_app") / "platform", platform)
    written.append(platform)
    return written
