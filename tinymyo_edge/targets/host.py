"""Host target: compile a build folder's C (kernel library + network + harness) with gcc and run it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError

# -ffp-contract=off: no a*b+c -> FMA (NUMERICS.md); no -ffast-math; -Wvla/-Wdouble-promotion: no VLA, no double.
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wvla", "-Wdouble-promotion"]
BASE = ["-std=c11", "-ffp-contract=off"] + WARNINGS
# validate/dump: -march=native so that validation checks the code path the host actually runs fast (the SIMD dot
# products of tm_arch.h); portable: the plain C path of tm_arch.h (what a new target starts from), with dumps.
VARIANTS = {
    "validate": ["-O2", "-march=native"],
    "dump": ["-O2", "-march=native", "-DTM_DUMP"],
    "portable": ["-O2", "-DTM_PORTABLE_C", "-DTM_DUMP"],
    "sanitize": ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                 "-fno-sanitize-recover=all", "-DTM_PORTABLE_C", "-DTM_DUMP"],
    "bench": ["-O3", "-march=native"],
    # the checking build (gap9_app/inc/tm_check.h): transfers and kernel ranges checked, copies deferred to the wait
    "check": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-DTM_PORTABLE_C",
              "-DTM_DUMP", "-DTM_CHECK_MEMORY"],
}


def _gcc() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        raise TinyMyoError("no C compiler found (gcc or cc on PATH): the host build needs one")
    return gcc


def sources(outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return sorted((outdir / "kernels" / "src").glob("*.c")) + [
        outdir / "network" / "network.c", outdir / "network" / "weights.c", outdir / "host" / "main.c",
        outdir / "host" / "tm_xfer_memcpy.c"]


def include_dirs(outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    return [outdir / "host", outdir / "network", outdir / "kernels" / "inc"]


def compile_flags(variant: str, cores: int | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    if variant not in VARIANTS:
        raise TinyMyoError(f"unknown host build variant {variant!r}; known: {', '.join(VARIANTS)}")
    flags = BASE + VARIANTS[variant] + list(extra)
    return flags + ([f"-DTM_NUM_CORES={cores}"] if cores else [])


def _cache_path(gcc: str, flags: list[str], src: Path, headers: str) -> Path | None:
    """Kernel-library objects depend only on flags, source and headers: cached across build folders (tests and
    benchmarks build many folders). TINYMYO_OBJ_CACHE=off disables the cache."""
    root = os.environ.get("TINYMYO_OBJ_CACHE", str(Path(tempfile.gettempdir()) / "tinymyo_edge_obj_cache"))
    if root == "off":
        return None
    key = hashlib.sha256("\0".join([gcc, *flags, src.name, src.read_text(), headers]).encode()).hexdigest()
    return Path(root) / f"{key}.o"


def _store(obj: Path, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(obj, tmp)
    os.replace(tmp, cached)


def compile_host(outdir: Path, variant: str = "validate", cores: int | None = None,
                 extra: tuple[str, ...] = ()) -> Path:
    """Compile (or reuse) the host executable of OUTDIR for a variant; returns its path. Compile errors are
    TinyMyoErrors carrying gcc's message."""
    outdir = Path(outdir)
    flags = compile_flags(variant, cores, extra)
    srcs = sources(outdir)
    missing = [s for s in srcs if not s.is_file()]
    if missing:
        raise TinyMyoError(f"{outdir}: not a complete build folder (missing {missing[0].relative_to(outdir)})")
    key = hashlib.sha256(" ".join(flags).encode()).hexdigest()[:10]
    work = outdir / ".host" / f"{variant}-{key}"
    exe = work / "host_net"
    newest = max(p.stat().st_mtime for d in (*srcs, *include_dirs(outdir)) for p in ([d] if d.is_file() else
                                                                                      d.glob("*.h")))
    if exe.is_file() and exe.stat().st_mtime >= newest:
        return exe
    work.mkdir(parents=True, exist_ok=True)
    gcc, incs = _gcc(), [f"-I{d}" for d in include_dirs(outdir)]
    headers = "".join(p.read_text() for d in include_dirs(outdir) for p in sorted(d.glob("*.h")))
    jobs = []
    for src in srcs:
        obj = work / (src.parent.name + "_" + src.stem + ".o")
        cached = _cache_path(gcc, flags, src, headers) if src.parent.name == "src" else None
        if cached is not None and cached.is_file():
            shutil.copyfile(cached, obj)
            continue
        proc = subprocess.Popen([gcc, *flags, *incs, "-c", str(src), "-o", str(obj)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        jobs.append((src, obj, cached, proc))
    for src, obj, cached, proc in jobs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise TinyMyoError(f"gcc failed on {src}:\n{out}")
        if cached is not None:
            _store(obj, cached)
    objs = [str(work / (s.parent.name + "_" + s.stem + ".o")) for s in srcs]
    link = subprocess.run([gcc, *flags, *objs, "-o", str(exe)], capture_output=True, text=True)
    if link.returncode:
        raise TinyMyoError(f"link failed for {outdir}:\n{link.stdout}{link.stderr}")
    return exe


def weights_image(exe: Path) -> Path:
    """network/weights.bin of the build folder an executable of compile_host belongs to (OUTDIR/.host/<variant>/)."""
    return Path(exe).parents[2] / "network" / "weights.bin"


def run_binary(exe: Path, x: np.ndarray, output_shape: tuple[int, ...], dump: bool = False,
               timeout: float = 600, weights: Path | None = None) -> tuple[np.ndarray, bytes]:
    """Run the harness on windows x (N, ...) float32 with the L3 image `weights` (default: the build folder's
    network/weights.bin); returns outputs (N, *output_shape) and the dump bytes."""
    x = np.ascontiguousarray(x, dtype="<f4")
    with tempfile.TemporaryDirectory(prefix="tm_host_") as tmp:
        tmp = Path(tmp)
        x.tofile(tmp / "in.bin")
        args = [str(exe), str(weights or weights_image(exe)), str(tmp / "in.bin"), str(len(x)), str(tmp / "out.bin")]
        if dump:
            args.append(str(tmp / "dump.bin"))
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            raise TinyMyoError(f"host build {exe} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
        y = np.fromfile(tmp / "out.bin", dtype="<f4").reshape((len(x), *output_shape))
        return y, (tmp / "dump.bin").read_bytes() if dump else b""


def bench_binary(exe: Path, x: np.ndarray, repeats: int = 20, weights: Path | None = None) -> float:
    """Median seconds of one inference of window x (C, T), measured by the harness itself."""
    with tempfile.TemporaryDirectory(prefix="tm_bench_") as tmp:
        path = Path(tmp) / "in.bin"
        np.ascontiguousarray(x, dtype="<f4").tofile(path)
        proc = subprocess.run([str(exe), "--bench", str(weights or weights_image(exe)), str(path), str(repeats)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise TinyMyoError(f"benchmark run failed: {proc.stderr}")
        return int(proc.stdout.split()[1]) * 1e-9
