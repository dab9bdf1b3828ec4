"""platform=pulp-open: the app's PMSIS code path on the open PULP SDK and GVSoC pulp-open.

CI (no simulator, no SDK): the Xpulpv2 path of tm_arch.h (encodings emitted by the cross compiler, against PMSIS
declarations written from the public headers), the stops that name a missing tool. Local (gvsoc on PATH and the
open PULP SDK's PMSIS named by PULP_PMSIS_MK, docs/PULP_OPEN.md): the HyperFlash image layout, runs on GVSoC whose
output equals the host build's and the golden executor's bit for bit, and the clear failure of a missing or short
weight image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app_helpers import build_small_app, golden, same_bits, small_config
from program_factory import make_random_program
from tinymyo_edge.build.core import build_program
from tinymyo_edge.codegen.numerics_header import render_numerics_header
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.resources import resource_dir
from tinymyo_edge.targets import pulp_open
from tinymyo_edge.targets.app_run import run_app

CC, OBJDUMP, NM = "riscv64-unknown-elf-gcc", "riscv64-unknown-elf-objdump", "riscv64-unknown-elf-nm"
needs_cross = pytest.mark.skipif(shutil.which(CC) is None or shutil.which(OBJDUMP) is None,
                                 reason=f"{CC} / {OBJDUMP} not on PATH (apt-get install gcc-riscv64-unknown-elf "
                                        "binutils-riscv64-unknown-elf)")
PMSIS_MK = pulp_open.pmsis_fragment()
needs_pmsis = pytest.mark.skipif(PMSIS_MK is None or shutil.which(CC) is None,
                                 reason="the open PULP SDK's PMSIS (PULP_PMSIS_MK=<its pmsis.mk>, docs/PULP_OPEN.md) or "
                                        "riscv64-unknown-elf-gcc missing: local-only test")
needs_gvsoc = pytest.mark.skipif(bool(pulp_open.missing_tools()),
                                 reason="gvsoc (open-source GVSoC, pulp-open target), the open PULP SDK's PMSIS "
                                        "(PULP_PMSIS_MK) or riscv64-unknown-elf-gcc missing: local-only test")

# The 128 kB-TCDM variant (GAP9's L1 size): its own simulator build and the PMSIS fragment whose link script has
# 128 kB of L1 (docs/PULP_OPEN.md), named by GVSOC_128K and PULP_PMSIS_MK_128K.
GVSOC_128K = os.environ.get("GVSOC_128K")
PMSIS_MK_128K = os.environ.get("PULP_PMSIS_MK_128K")
needs_gvsoc_128k = pytest.mark.skipif(not GVSOC_128K or not PMSIS_MK_128K
                                      or bool(pulp_open.missing_tools(GVSOC_128K, PMSIS_MK_128K)),
                                      reason="the 128 kB-TCDM GVSoC pulp-open (GVSOC_128K=<its gvsoc>) and its PMSIS "
                                             "fragment (PULP_PMSIS_MK_128K=<pmsis-l1-128k.mk>) missing: local-only test")

# PMSIS declarations written from the public headers (sources named inside): tests/pmsis_decls; the libc headers
# of the app's own minimal libc (platform/rv32/include).
DECLS = Path(__file__).parent / "pmsis_decls"

# Xpulpv2 encodings (GVSoC isa_pulpv2.py): mask, match of the 32-bit word
SDOTUSP_B = (0xFE00707F, (0x54 << 25) | (1 << 12) | 0x57)  # pv.sdotusp.b: funct7 101010x, funct3 001, opcode OP-V
P_LW_POSTINC = (0x0000707F, (2 << 12) | 0x0B)  # p.lw rd, imm(rs1!): funct3 010, opcode custom-0
LP_SETUP = (0x00000FFF, (4 << 12 & 0xFFF) | 0x7B)  # lp.setup x0, rs1, N: funct3 100, rd x0, opcode 0x7b
CUSTOM_OPCODES = {0x57, 0x0B, 0x7B}

PROBE = r"""
#include "tm_arch.h"
int32_t out[16];
int32_t probe_4x4(const uint8_t *a, const int8_t *b, int n) { tm_dot_u8s8_4x4(a, n, b, n, n, out); return out[5]; }
int32_t probe_dot(const uint8_t *a, const int8_t *b, int n) { return tm_dot_u8s8(a, b, n); }
"""


def compile_probe(tmp_path: Path, *defines: str) -> list[tuple[int, int]]:
    """(address, 32-bit word) of every instruction of the probe compiled for rv32 with DEFINES."""
    src = tmp_path / "probe.c"
    src.write_text(PROBE)
    obj = tmp_path / "probe.o"
    inc = resource_dir("gap9_app") / "inc"
    (tmp_path / "tm_numerics.h").write_text(render_numerics_header())  # generated per build, as the lowering does
    libc = resource_dir("gap9_app") / "platform" / "rv32" / "include"
    subprocess.run([CC, "-march=rv32imc", "-misa-spec=2.2", "-mabi=ilp32", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-ffreestanding", *defines, f"-I{inc}", f"-I{tmp_path}", f"-I{DECLS}", f"-I{libc}", "-c", str(src),
                    "-o", str(obj)], check=True)
    dump = subprocess.run([OBJDUMP, "-d", str(obj)], check=True, capture_output=True, text=True).stdout
    words = []
    for line in dump.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+([0-9a-f]{8})\s", line)  # 32-bit instructions only (no compressed)
        if m:
            words.append((int(m.group(1), 16), int(m.group(2), 16)))
    return words


def matches(word: int, encoding: tuple[int, int]) -> bool:
    return word & encoding[0] == encoding[1]


@needs_cross
@pytest.mark.parametrize("platform", ["TM_PLATFORM_PULP_OPEN", "TM_PLATFORM_GAP9"])
def test_xpulp_path_emits_sdotusp_postincrement_loads_and_hardware_loops(tmp_path, platform):
    """GAP9 and pulp-open compile the same Xpulpv2 code (tm_xpulp.h)."""
    words = compile_probe(tmp_path, f"-D{platform}")
    sdot = [a for a, w in words if matches(w, SDOTUSP_B)]
    loads = [(a, w) for a, w in words if matches(w, P_LW_POSTINC)]
    loops = [(a, w) for a, w in words if matches(w, LP_SETUP) and (w >> 7) & 0x1F == 0]
    assert len(sdot) >= 8 + 1  # the 4 x 2 block (8) and the single dot product (1)
    assert loads and all(w >> 20 == 4 for _, w in loads)  # post-increment by one word
    assert len(loops) >= 2
    for addr, word in loops:  # lp.setup's N = (last body instruction - lp.setup) / 2: the body ends on an sdotp
        last = addr + 2 * (word >> 20)
        assert last in sdot, f"hardware loop at {addr:#x} ends at {last:#x}, not on a pv.sdotusp.b"
        body = [w for a, w in words if addr < a <= last]
        assert body and all(matches(w, SDOTUSP_B) or matches(w, P_LW_POSTINC) for w in body)


P_MAC = (0xFE00707F, (0x21 << 25) | 0x33)  # p.mac rd, rs1, rs2: funct7 0100001, funct3 000, opcode OP
P_CLIPU_255 = (0xFFF0707F, (0x0A << 25) | (9 << 20) | (2 << 12) | 0x33)  # p.clipu(i) rd, rs1, 9: [0, 255]
P_LBU_POSTINC = (0xFFF0707F, (1 << 20) | (4 << 12) | 0x0B)  # p.lbu rd, 1(rs1!)
P_SB_POSTINC = (0xFE000F80 | 0x707F, (1 << 7) | 0x2B)  # p.sb rs2, 1(rs1!): imm[4:0] = 1, funct3 000, opcode 0x2b
SDOTUP_B = (0xFE00707F, (0x50 << 25) | (1 << 12) | 0x57)


def compile_kernel(tmp_path: Path, name: str, platform: str) -> list[tuple[int, int]]:
    """(address, word) of every 32-bit instruction of gap9_app/src/<name> compiled for PLATFORM."""
    src = resource_dir("gap9_app") / "src" / name
    probe = tmp_path / f"{name}.probe.c"
    probe.write_text(f'#include "{src}"\n')
    (tmp_path / "tm_numerics.h").write_text(render_numerics_header())
    inc, libc = resource_dir("gap9_app") / "inc", resource_dir("gap9_app") / "platform" / "rv32" / "include"
    obj = tmp_path / f"{name}.o"
    subprocess.run([CC, "-march=rv32imc", "-misa-spec=2.2", "-mabi=ilp32", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-ffreestanding", f"-D{platform}", f"-I{inc}", f"-I{tmp_path}", f"-I{DECLS}", f"-I{libc}", "-c",
                    str(probe), "-o", str(obj)], check=True)
    dump = subprocess.run([OBJDUMP, "-d", str(obj)], check=True, capture_output=True, text=True).stdout
    return [(int(m.group(1), 16), int(m.group(2), 16)) for m in
            (re.match(r"\s*([0-9a-f]+):\s+([0-9a-f]{8})\s", line) for line in dump.splitlines()) if m]


def _loops(words):
    """(body words) of every hardware loop (lp.setup x0, rs1, N: the body runs to lp.setup + 2 N)."""
    out = []
    for addr, word in words:
        if matches(word, LP_SETUP) and (word >> 7) & 0x1F == 0:
            out.append([w for a, w in words if addr < a <= addr + 2 * (word >> 20)])
    return out


@needs_cross
@pytest.mark.parametrize("platform", ["TM_PLATFORM_PULP_OPEN", "TM_PLATFORM_GAP9"])
def test_layernorm_and_residual_inner_loops_are_integer_xpulp(tmp_path, platform):
    """The cluster path of the integer LayerNorm and ResidualAdd: hardware loops of post-increment byte loads,
    p.mac, p.clipu and post-increment byte stores (the store last); the LayerNorm moments by u8 dot products."""
    residual = _loops(compile_kernel(tmp_path, "tm_residual.c", platform))
    assert len(residual) == 1
    body = residual[0]
    assert len(body) == 18 and matches(body[-1], P_SB_POSTINC)  # two elements per iteration
    assert sum(matches(w, P_LBU_POSTINC) for w in body) == 4 and sum(matches(w, P_MAC) for w in body) == 4
    assert sum(matches(w, P_CLIPU_255) for w in body) == 2 and sum(matches(w, P_SB_POSTINC) for w in body) == 2
    ln = _loops(compile_kernel(tmp_path, "tm_layernorm.c", platform))
    moments = [b for b in ln if sum(matches(w, SDOTUP_B) for w in b) == 4]  # two words per iteration
    affine = [b for b in ln if b and matches(b[-1], P_SB_POSTINC)]
    assert len(moments) == 1 and len(moments[0]) == 6 and all(matches(w, P_LW_POSTINC) for w in moments[0][:2])
    assert len(affine) == 1 and len(affine[0]) == 24  # two elements per iteration
    assert sum(matches(w, P_MAC) for w in affine[0]) == 4 and sum(matches(w, P_CLIPU_255) for w in affine[0]) == 2
    for b in ln + residual:  # integer only: no OP-FP (0x53) instruction in any loop
        assert not any(w & 0x7F == 0x53 for w in b)


@needs_cross
def test_plain_rv32_build_of_the_same_source_has_no_xpulp_instruction(tmp_path):
    words = compile_probe(tmp_path, "-DTM_PLATFORM_RV32")
    assert words and not [w for _, w in words if w & 0x7F in CUSTOM_OPCODES]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_small_app(tmp_path_factory.mktemp("pulp_open") / "app")


def make_pulp_open(outdir: Path, target: str, *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(outdir), target, "platform=pulp-open", *variables],
                          capture_output=True, text=True)


def test_without_pmsis_the_build_stops_naming_it(app, monkeypatch):
    _, outdir = app
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} not on PATH: the tool check names the compiler first")
    monkeypatch.delenv("PULP_PMSIS_MK", raising=False)
    for variables in ([], ["PULP_PMSIS_MK=/no/such/pmsis.mk"]):
        proc = make_pulp_open(outdir, "build", *variables)
        assert proc.returncode != 0
        assert "PULP_PMSIS_MK" in proc.stdout and "pulp-sdk" in proc.stdout, proc.stdout
    assert "(no such file)" in proc.stdout
    assert not (outdir / "build" / "pulp-open" / "tinymyo.elf").exists()
    with pytest.raises(TinyMyoError, match="PULP_PMSIS_MK"):
        pulp_open.run_pulp_open(outdir, gvsoc="true")


def test_without_gvsoc_the_run_stops_naming_it(app, monkeypatch, tmp_path):
    _, outdir = app
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} not on PATH: the tool check names the compiler first")
    fragment = tmp_path / "pmsis.mk"  # a fragment that passes the PMSIS check: the gvsoc check comes next
    fragment.write_text(f"PMSIS_CC := {CC}\n")
    proc = make_pulp_open(outdir, "run", f"PULP_PMSIS_MK={fragment}", "GVSOC=no-such-gvsoc")
    assert proc.returncode != 0
    assert "GVSoC" in proc.stdout and "'no-such-gvsoc' is not on PATH" in proc.stdout
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(p) / "gvsoc").exists()))
    with pytest.raises(TinyMyoError, match="gvsoc"):
        pulp_open.run_pulp_open(outdir, pmsis_mk=fragment)


def flash_image_words(data: bytes) -> int:
    padded = data + bytes(-len(data) % 4)
    return int(np.frombuffer(padded, dtype="<u4").astype(np.uint64).sum()) & 0xFFFFFFFF


@needs_pmsis
def test_hyperflash_image_is_weights_bin_behind_a_checked_header(app):
    """Built with PMSIS, without the simulator (GVSOC=true passes the tool check): the flash image is the 16-byte
    header (magic, bytes, word sum) then the network's weights.bin, in which every linear weight matrix sits at
    its TM_L3_ offset of weights.h."""
    program, outdir = app
    proc = make_pulp_open(outdir, "build", f"PULP_PMSIS_MK={PMSIS_MK}", "GVSOC=true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flash = (outdir / "build" / "pulp-open" / "hyperflash.bin").read_bytes()
    magic, size, words, zero = (int(v) for v in np.frombuffer(flash[:16], dtype="<u4"))
    image = flash[16:16 + size]
    assert image == (outdir / "network" / "weights.bin").read_bytes()
    assert (magic, zero, len(flash)) == (0x31574D54, 0, 16 + size + (-size % 4))
    assert words == flash_image_words(image)
    offsets = {m.group(1): int(m.group(2)) for m in
               re.finditer(r"#define TM_L3_(\w+) (\d+)u", (outdir / "network" / "weights.h").read_text())}
    linears = [op for op in program.ops if op.kind in ("linear", "linear_lut", "linear_dequant")]
    assert linears
    for op in linears:
        w = op.weight.astype(np.int8).tobytes()
        assert any(image[o:o + len(w)] == w for name, o in offsets.items() if name.endswith("_weight")), op.name


@needs_gvsoc
@pytest.mark.parametrize("damage", ["missing", "short", "other_size"])
def test_missing_or_short_weight_image_stops_with_an_error(app, tmp_path, damage):
    """tm_l3_open refuses a HyperFlash without the image, with a truncated one or with another build's: a clear
    error and a non-zero exit, no output."""
    _, outdir = app
    proc = make_pulp_open(outdir, "build", f"PULP_PMSIS_MK={PMSIS_MK}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    good = (outdir / "build" / "pulp-open" / "hyperflash.bin").read_bytes()
    bad = tmp_path / "hyperflash.bin"
    if damage == "short":
        bad.write_bytes(good[:16 + (len(good) - 16) // 2])
    elif damage == "other_size":
        bad.write_bytes(good[:4] + (int.from_bytes(good[4:8], "little") + 4).to_bytes(4, "little") + good[8:])
    variables = ["PULP_FLASH_IMAGE=" + ("" if damage == "missing" else str(bad)), f"PULP_PMSIS_MK={PMSIS_MK}"]
    output = outdir / "output.bin"
    output.unlink(missing_ok=True)
    proc = make_pulp_open(outdir, "run", *variables)
    assert proc.returncode != 0
    expected = {"missing": "no weight image in the HyperFlash", "short": "is short or damaged",
                "other_size": "this network needs"}[damage]
    assert expected in proc.stdout, proc.stdout[-3000:]
    assert "Errors:" not in proc.stdout and not output.exists()


@needs_gvsoc
def test_pulp_open_on_gvsoc_equals_host_and_golden(app):
    program, outdir = app
    run = pulp_open.run_pulp_open(outdir, timeout=600)
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    want = golden(program, x)
    assert same_bits(run.output, want)
    assert same_bits(run.output, run_app(outdir, "host").output)
    assert run.counters.errors == (0, want.size)
    assert run.counters.unit == "Cycles"
    assert all(count > 0 for count, _ in run.counters.layers.values())


@needs_gvsoc
@pytest.mark.parametrize("soft_float", [False, True], ids=["zfinx", "soft_float"])
def test_pulp_open_regression_head_equals_golden(tmp_path, soft_float):
    """Depthwise conv, SiLU tables, float interpolation: the float unit (Zfinx) and libgcc soft float, both IEEE."""
    program, outdir = build_small_app(tmp_path / "reg", seed=5, head="regression")
    run = pulp_open.run_pulp_open(outdir, timeout=600, soft_float=soft_float)
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    assert same_bits(run.output, golden(program, x))


@needs_gvsoc
@pytest.mark.parametrize("tokens", [43, 44])
def test_pulp_open_wide_softmax_equals_golden(tmp_path, tokens):
    """12-bit softmax probabilities: the scalar probability rows (int32, in the L2 row scratch) after the scores of
    the L1 path (44 tokens: whole 4 x 4 blocks) or the portable one (43: a tail)."""
    program, outdir = build_small_app(tmp_path / "p12", seed=12, prob_bits=12, channels=1, samples=tokens,
                                      patch_size=1, dim=12, heads=3)
    run = pulp_open.run_pulp_open(outdir, timeout=600)
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    assert same_bits(run.output, golden(program, x))


@needs_gvsoc_128k
def test_pulp_open_128k_tiles_beyond_64_kb_and_equals_golden(tmp_path):
    """Board pulp-open-128k hands the planner 64 kB more L1: this model's L1 arena needs more than the 64 kB TCDM
    holds, so it runs only on the 128 kB simulator, and its output equals the golden executor's."""
    program = make_random_program(small_config(channels=2, samples=400, dim=64, heads=2), seed=3)
    outdir = tmp_path / "l1_128k"
    build_program(program, outdir, target="gap9", board="pulp-open-128k")
    l1_bytes = int(re.search(r"#define TM_L1_BYTES (\d+)", (outdir / "network" / "network.h").read_text()).group(1))
    assert l1_bytes > 64 * 1024
    run = pulp_open.run_pulp_open(outdir, gvsoc=GVSOC_128K, pmsis_mk=PMSIS_MK_128K, timeout=600)
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    want = golden(program, x)
    assert same_bits(run.output, want) and run.counters.errors == (0, want.size)

# ---- tm_xfer.h on PMSIS (platform/pmsis/tm_xfer_pmsis.c), shared by GAP9 and pulp-open -------------------------
# The PMSIS calls it makes, declared as the public headers declare them: pulp-platform/pulp-sdk d4b5bcdd
# rtos/pmsis/pmsis_api/include/pmsis/cluster/dma/cl_dma.h (pi_cl_dma_dir_e, pi_cl_dma_cmd, pi_cl_dma_cmd_2d,
# pi_cl_dma_cmd_wait), rtos/pmsis/pmsis_bsp/include/bsp/ram.h (pi_cl_ram_read, pi_cl_ram_read_wait), the same names
# and signatures as github GreenWaves-Technologies/gap_sdk rtos/pmsis/pmsis_api and pmsis_bsp. The structures are
# opaque to our code (only their addresses are passed); the fields here are the harness's own.
XFER_PMSIS_H = """
#pragma once
#include <stdint.h>
#define PI_L2
#define PI_CL_L1
struct pi_device { void *config; void *data; };
typedef enum { PI_CL_DMA_DIR_LOC2EXT = 0, PI_CL_DMA_DIR_EXT2LOC = 1 } pi_cl_dma_dir_e;
typedef struct pi_cl_dma_cmd_s { int id; } pi_cl_dma_cmd_t;
uint32_t pi_core_id(void);
void pi_cl_team_fork(int nb_cores, void (*entry)(void *), void *arg);
void pi_cl_dma_cmd(uint32_t ext, uint32_t loc, uint32_t size, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_cmd_2d(uint32_t ext, uint32_t loc, uint32_t size, uint32_t stride, uint32_t length,
                      pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_cmd_wait(pi_cl_dma_cmd_t *cmd);
"""
XFER_RAM_H = """
#pragma once
#include "pmsis.h"
typedef struct pi_cl_ram_req_s { int id; } pi_cl_ram_req_t;
void pi_cl_ram_read(struct pi_device *device, uint32_t pi_ram_addr, void *addr, uint32_t size, pi_cl_ram_req_t *req);
void pi_cl_ram_read_wait(pi_cl_ram_req_t *req);
"""
PMSIS_CALLS = {"pi_cl_dma_cmd", "pi_cl_dma_cmd_2d", "pi_cl_dma_cmd_wait", "pi_cl_ram_read", "pi_cl_ram_read_wait"}

# A host harness: the DMA and RAM calls copy at once and record every piece; the checks compare the bytes and the
# piece sizes (one DMA command < 64 KiB), and that every piece was waited for exactly once before tm_xfer_wait
# returned. The harness runs on 64-bit host pointers truncated to 32 bits: it maps addresses through a table.
XFER_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tm_pmsis_l3.h"
#include "tm_xfer.h"
static uint8_t l1[200000], l2[400000], l3[300000];
static int started, waited, max_piece, failures;
static uint8_t *host(uint32_t a)   /* a 32-bit "address": region tag in the top byte, offset below */
{
    uint8_t *base = (a >> 24) == 1 ? l1 : (a >> 24) == 2 ? l2 : NULL;
    if (!base) { printf("bad address %x\n", a); exit(3); }
    return base + (a & 0xFFFFFF);
}
uint32_t pi_core_id(void) { return 0; }
void pi_cl_team_fork(int n, void (*f)(void *), void *a) { (void)n; f(a); }
void pi_cl_dma_cmd(uint32_t ext, uint32_t loc, uint32_t size, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd)
{
    if (size >= 65536) failures++;
    if ((int)size > max_piece) max_piece = (int)size;
    if (dir == PI_CL_DMA_DIR_EXT2LOC) memcpy(host(loc), host(ext), size); else memcpy(host(ext), host(loc), size);
    cmd->id = ++started;
}
void pi_cl_dma_cmd_2d(uint32_t ext, uint32_t loc, uint32_t size, uint32_t stride, uint32_t length,
                      pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd)
{
    if (size >= 65536 || size % length) failures++;
    if ((int)size > max_piece) max_piece = (int)size;
    for (uint32_t r = 0; r < size / length; r++) {
        if (dir == PI_CL_DMA_DIR_EXT2LOC) memcpy(host(loc + r * length), host(ext + r * stride), length);
        else memcpy(host(ext + r * stride), host(loc + r * length), length);
    }
    cmd->id = ++started;
}
void pi_cl_dma_cmd_wait(pi_cl_dma_cmd_t *cmd) { if (cmd->id <= 0) failures++; cmd->id = -1; waited++; }
void pi_cl_ram_read(struct pi_device *d, uint32_t ram, void *addr, uint32_t size, pi_cl_ram_req_t *req)
{
    (void)d;
    memcpy(addr, l3 + ram, size);
    req->id = ++started;
}
void pi_cl_ram_read_wait(pi_cl_ram_req_t *req) { if (req->id <= 0) failures++; req->id = -1; waited++; }
#define A1(p) (void *)(uintptr_t)(0x01000000u + (uint32_t)((uint8_t *)(p) - l1))
#define A2(p) (void *)(uintptr_t)(0x02000000u + (uint32_t)((uint8_t *)(p) - l2))
static struct pi_device ram;
int main(void)
{
    for (int i = 0; i < (int)sizeof l2; i++) l2[i] = (uint8_t)(i * 7 + i / 253);
    for (int i = 0; i < (int)sizeof l3; i++) l3[i] = (uint8_t)(i * 5 + 1);
    tm_l3_ram = &ram, tm_l3_ram_base = 1000, tm_l3_image_bytes = 250000;
    tm_xfer_t x = {0};
    tm_xfer_wait(&x); /* never started: returns at once */
    if (started || waited) failures++;
    /* 1-D, 150000 bytes (> 64 KiB: pieces) */
    tm_xfer_to_l1(A1(l1 + 4), A2(l2 + 8), 150000, &x);
    tm_xfer_wait(&x);
    if (memcmp(l1 + 4, l2 + 8, 150000)) failures++, printf("1d to l1\n");
    /* 1-D back, to another place */
    tm_xfer_to_l2(A2(l2 + 200000), A1(l1 + 4), 150000, &x);
    tm_xfer_wait(&x);
    if (memcmp(l2 + 200000, l2 + 8, 150000)) failures++, printf("1d to l2\n");
    /* 2-D: 300 rows of 500 bytes, 700 apart (150000 bytes: several commands of whole rows) */
    memset(l1, 0, sizeof l1);
    tm_xfer_to_l1_2d(A1(l1), A2(l2 + 16), 500, 300, 700, &x);
    tm_xfer_wait(&x);
    for (int r = 0; r < 300; r++) if (memcmp(l1 + r * 500, l2 + 16 + r * 700, 500)) { failures++; printf("2d row %d\n", r); break; }
    /* 2-D with rows longer than one command: 3 rows of 70000 bytes, 80000 apart */
    tm_xfer_to_l1_2d(A1(l1), A2(l2), 60000, 3, 61000, &x);
    tm_xfer_wait(&x);
    for (int r = 0; r < 3; r++) if (memcmp(l1 + r * 60000, l2 + r * 61000, 60000)) { failures++; printf("2d long %d\n", r); }
    /* 2-D out: 40 rows of 64 bytes packed in L1 to a stride of 100 */
    tm_xfer_to_l2_2d(A2(l2 + 300000), A1(l1), 64, 40, 100, &x);
    tm_xfer_wait(&x);
    for (int r = 0; r < 40; r++) if (memcmp(l2 + 300000 + r * 100, l1 + r * 64, 64)) { failures++; printf("2d out %d\n", r); break; }
    /* L3 -> L2: 200000 bytes from offset 12345 of the image (RAM address base + offset) */
    tm_xfer_from_l3(l2 + 100, 12345, 200000, &x);
    tm_xfer_wait(&x);
    if (memcmp(l2 + 100, l3 + 1000 + 12345, 200000)) failures++, printf("l3\n");
    if (started != waited) failures++, printf("started %d waited %d\n", started, waited);
    printf("pieces %d, largest %d, failures %d\n", started, max_piece, failures);
    return failures != 0;
}
"""


def xfer_sources(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "bsp").mkdir(exist_ok=True)
    (tmp_path / "pmsis.h").write_text(XFER_PMSIS_H)
    (tmp_path / "bsp" / "ram.h").write_text(XFER_RAM_H)
    (tmp_path / "tm_numerics.h").write_text(render_numerics_header())
    return resource_dir("gap9_app") / "platform" / "pmsis", resource_dir("gap9_app") / "inc"


@needs_cross
@pytest.mark.parametrize("platform", ["TM_PLATFORM_GAP9", "TM_PLATFORM_PULP_OPEN"])
def test_pmsis_transfers_compile_for_gap9_and_pulp_open_calling_only_pmsis(tmp_path, platform):
    """One source for both: -Wall -Wextra -Werror with the cross compiler against the public signatures; the only
    external calls are the PMSIS DMA and RAM functions."""
    pmsis, inc = xfer_sources(tmp_path)
    obj = tmp_path / "xfer.o"
    subprocess.run([CC, "-march=rv32imc", "-misa-spec=2.2", "-mabi=ilp32", "-O2", "-std=gnu11", "-Wall", "-Wextra",
                    "-Werror", "-ffreestanding", f"-D{platform}", f"-I{DECLS}", f"-I{tmp_path}", f"-I{pmsis}",
                    f"-I{inc}", f"-I{pmsis.parent / 'rv32' / 'include'}", "-c",
                    str(pmsis / "tm_xfer_pmsis.c"), "-o", str(obj)], check=True)
    undefined = {line.split()[-1] for line in subprocess.run([NM, "-u", str(obj)], capture_output=True, text=True,
                                                             check=True).stdout.splitlines() if line.strip()}
    assert undefined == PMSIS_CALLS


def test_pmsis_transfers_split_and_wait_every_piece(tmp_path):
    """tm_xfer_pmsis.c on the host against a recording PMSIS: > 64 KiB transfers become commands under 64 KiB,
    2-D ones whole rows per command (row by row when a row is longer), L3 reads land from the RAM copy's offset,
    every piece is waited for, and the bytes arrive (1-D, 2-D both ways, L3)."""
    if shutil.which("cc") is None:
        pytest.skip("no host C compiler (cc)")
    pmsis, inc = xfer_sources(tmp_path)
    (tmp_path / "harness.c").write_text(XFER_HARNESS)
    exe = tmp_path / "harness"
    subprocess.run(["cc", "-O1", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-int-to-pointer-cast",
                    "-Wno-pointer-to-int-cast", "-DTM_PLATFORM_PULP_OPEN",
                    f"-I{tmp_path}", f"-I{pmsis}", f"-I{inc}", str(tmp_path / "harness.c"),
                    str(pmsis / "tm_xfer_pmsis.c"), "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    pieces, largest = map(int, re.match(r"pieces (\d+), largest (\d+)", proc.stdout).groups())
    assert largest < 65536 and pieces > 6
