"""`build --target gap9 --stream --hop H`: the streaming app in OUTDIR/stream/ beside the one-window app.

OUTDIR/stream/ holds main.c (templates/stream/main.c.j2: chunks of raw int16 frames in, preprocessing per sample,
an inference every H model samples on a double-buffered input, one line per hop), stream_config.h (the integers of
the model's fixed-point preprocessing, from its tinymyo_edge.preprocessing metadata), a Makefile over the shared
platform/Makefile.front, src/ (gap9_app/stream: ring buffer, biquads, normalisation, sample sources) and the SDK
build files, written by targets.app.write_app (reused, not copied). stream.json records what validate --stream and
the timing budget need. The network code is the build's own (../network, ../kernels).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data import fixed
from ..data.pipeline import parse, stream_spec
from ..errors import TinyMyoError
from ..ir.program import Program
from ..resources import resource_dir
from .app import NetworkCode, _environment, _provenance, network_code_in, write_app
from .operating_points import OPERATING_POINTS

STREAM_DIR = "stream"
STREAM_MANIFEST = "stream.json"
DEFAULT_CHUNK = 32  # raw frames per read: a typical AFE FIFO / DMA burst; any size gives the same results
GAP9_SOURCE = "src/tm_source_gap9.c"


@dataclass(frozen=True)
class StreamConfig:
    hop: int  # model samples between inferences
    smooth: int  # majority vote over this many hops (1: none)
    window: int
    channels: int
    classes: int
    decimation: int
    fs_in: float
    fs_out: float
    chunk: int = DEFAULT_CHUNK


def stream_config(program: Program, hop: int, smooth: int, where: str) -> tuple[StreamConfig, dict, fixed.FixedSpec]:
    """Check that the model can stream (its preprocessing, its shapes, hop/smooth) before anything is written."""
    desc = parse(program.metadata.get("preprocessing"), where)
    spec = stream_spec(desc, where)
    shape = tuple(program.tensors[program.input].shape)
    out = tuple(program.tensors[program.output].shape)
    if shape != (desc["channels"], desc["window"]):
        raise TinyMyoError(f"{where}: input {shape} does not match its preprocessing ({desc['channels']} channels x "
                           f"{desc['window']} samples)")
    if len(out) > 2 or (len(out) == 2 and out[0] != 1):
        raise TinyMyoError(f"{where}: --stream needs a classifier (one row of scores); the output is {out}")
    if not 1 <= hop <= desc["window"]:
        raise TinyMyoError(f"--hop must be 1..{desc['window']} model samples (the window); got {hop}")
    if smooth < 1:
        raise TinyMyoError(f"--smooth must be >= 1 hops; got {smooth}")
    cfg = StreamConfig(hop=hop, smooth=smooth, window=desc["window"], channels=desc["channels"], classes=out[-1],
                       decimation=spec.decimation, fs_in=desc["fs_in"], fs_out=desc["fs_out"])
    return cfg, desc, spec


def timing_budget(outdir: Path, cfg: StreamConfig) -> dict:
    """Hop period vs the ESTIMATED GAP9 inference latency (profile's cost model) at each operating point."""
    from ..profile.report import profile

    period_us = cfg.hop / cfg.fs_out * 1e6
    points = {}
    for name in OPERATING_POINTS:
        p = profile(outdir, operating_point=name)
        latency_us = p.est_cycles / p.operating_point.cluster_hz * 1e6
        points[name] = {"estimated_inference_cycles": round(p.est_cycles), "estimated_latency_us": round(latency_us, 1),
                        "hop_period_us": round(period_us, 1), "fits": latency_us < period_us}
    return {"hop_period_us": round(period_us, 1), "gap9_ESTIMATED": points,
            "note": "GAP9 numbers are ESTIMATED by tinymyo_edge/profile/cost_model.py; measured rv32 instruction "
                    "counts per frame and per hop come from `make -C OUTDIR/stream run platform=rv32`"}


def budget_warnings(budget: dict) -> list[str]:
    return [f"warning: at {name} the ESTIMATED GAP9 inference takes {v['estimated_latency_us']:g} us "
            f"({v['estimated_inference_cycles']} cycles), longer than the hop period {v['hop_period_us']:g} us: "
            f"hops would queue up; raise --hop or use a smaller model"
            for name, v in budget["gap9_ESTIMATED"].items() if not v["fits"]]


def _stream_net(outdir: Path, program: Program) -> NetworkCode:
    """The build's network code seen from OUTDIR/stream, plus the stream library (the GAP9 SDK build's list)."""
    net = network_code_in(outdir, program)
    return NetworkCode(sources=tuple(f"../{s}" for s in net.sources) + ("src/tm_stream.c", GAP9_SOURCE),
                       include_dirs=tuple(f"../{d}" for d in net.include_dirs) + ("src",),
                       input_shape=net.input_shape, output_shape=net.output_shape,
                       flash_files=tuple(f"../{f}" for f in net.flash_files))


def write_stream_app(outdir, program: Program, cfg: StreamConfig, desc: dict, spec: fixed.FixedSpec) -> dict:
    """Write OUTDIR/stream (see the module doc); returns the stream manifest (with the timing budget)."""
    outdir = Path(outdir)
    sdir = outdir / STREAM_DIR
    net = _stream_net(outdir, program)
    sdir.mkdir(exist_ok=True)
    write_app(sdir, program, net=net)  # app_config.h, CMake/Kconfig/sdk.config, platform/ (and its main.c, replaced)
    shutil.copytree(resource_dir("gap9_app") / "stream", sdir / "src", dirs_exist_ok=True)
    env = _environment()
    env.loader.searchpath = [str(resource_dir("templates") / "stream")]
    context = dict(
        provenance=_provenance(outdir), net=net, channels=cfg.channels, window=cfg.window, hop=cfg.hop,
        decimation=cfg.decimation, smooth=cfg.smooth, classes=cfg.classes, fs_in=f"{cfg.fs_in:g}",
        fs_out=f"{cfg.fs_out:g}", fs_in_int=int(cfg.fs_in), chunk=cfg.chunk, signal_frac=fixed.SIGNAL_FRAC,
        coef_frac=fixed.COEF_FRAC, norm_shift=fixed.NORM_SHIFT, out_frac=fixed.OUT_FRAC,
        signal_limit=fixed.SIGNAL_LIMIT, out_limit=fixed.OUT_LIMIT, sections=[list(s) for s in spec.sections],
        mean_q=list(spec.mean_q), scale_q=list(spec.scale_q),
        network_srcs=[s for s in net.sources if s != GAP9_SOURCE and s != "src/tm_stream.c"],
        network_inc=[d for d in net.include_dirs if d != "src"],
        filter_note=_filter_note(desc),
    )
    for name in ("main.c", "stream_config.h", "Makefile"):
        (sdir / name).write_text(env.get_template(f"{name}.j2").render(**context))
    manifest = {"format": "tinymyo-edge stream v1", "config": asdict(cfg), "preprocessing": desc,
                "budget": timing_budget(outdir, cfg)}
    (sdir / STREAM_MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _filter_note(desc: dict) -> str:
    bp, notch = desc.get("bandpass"), desc.get("notch")
    parts = [f"causal {bp['order']}th-order Butterworth band-pass {bp['low']:g}-{bp['high']:g} Hz" if bp else None,
             f"notch {notch['freq']:g} Hz (Q {notch['quality']:g})" if notch else None]
    return ", then ".join(p for p in parts if p) + f" at {desc['fs_in']:g} Hz" if any(parts) else "no filter"


def read_stream_manifest(outdir) -> dict:
    path = Path(outdir) / STREAM_DIR / STREAM_MANIFEST
    if not path.is_file():
        raise TinyMyoError(f"{outdir}: no {STREAM_DIR}/{STREAM_MANIFEST}: build it with --target gap9 --stream --hop H")
    return json.loads(path.read_text())
