"""The GAP9 SDK code path without the SDK: network.c, the kernels and the GAP9 platform layer compile with the rv32
cross compiler (-Wall -Wextra -Werror, -DTM_PLATFORM_GAP9) against PMSIS declarations written from the PUBLIC
headers (tests/pmsis_decls, each block naming its source); the old, app-assumed signatures do not; tm_l3_open's
readfs -> RAM copy refuses a missing, short or other-size image; Kconfig values reach C through the CMake project."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from app_helpers import build_small_app
from tinymyo_edge.memory.board import MASTER_STACK_BYTES
from tinymyo_edge.targets.app import DEFAULT_POWER_GPIO, gap9_platform_sources, network_code_in
from tinymyo_edge.targets.operating_points import OPERATING_POINTS, get_operating_point

DECLS = Path(__file__).parent / "pmsis_decls"
FAKES = Path(__file__).parent / "pmsis_fakes"
CROSS = "riscv64-unknown-elf-gcc"
# the libc headers: the app's own minimal ones (platform/rv32/include; the GAP9 SDK brings its libc)
CROSS_FLAGS = ["-march=rv32imc_zicsr", "-mabi=ilp32", "-std=c11", "-O2", "-ffreestanding", "-Wall", "-Wextra",
               "-Werror", "-DTM_PLATFORM_GAP9"]
needs_cross = pytest.mark.skipif(shutil.which(CROSS) is None, reason=f"{CROSS} not installed (gcc-riscv64-unknown-elf)")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_small_app(tmp_path_factory.mktemp("gap9") / "app")


def _includes(outdir: Path) -> list[str]:
    return [f"-I{DECLS}", f"-I{outdir}", f"-I{outdir / 'platform'}", f"-I{outdir / 'platform' / 'pmsis'}",
            f"-I{outdir / 'network'}", f"-I{outdir / 'kernels' / 'inc'}", f"-I{outdir / 'platform' / 'rv32' / 'include'}",
            "-include", str(outdir / "platform" / "tm_layer_hooks.h")]


def gap9_sources(outdir: Path, program) -> list[str]:
    """What the GAP9 CMake project compiles: main.c, the network code and kernels, the GAP9 platform layer, all
    enumerated from OUTDIR (whatever files the lowering and platform/ provide)."""
    return ["main.c", *network_code_in(outdir, program).sources, *gap9_platform_sources(outdir / "platform")]


def _cross_compile(outdir: Path, sources: list[str], objdir: Path, defines=()) -> subprocess.CompletedProcess:
    objdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([CROSS, *CROSS_FLAGS, *defines, *_includes(outdir), "-c",
                           *[str(outdir / s) for s in sources]], cwd=objdir, capture_output=True, text=True)


@needs_cross
@pytest.mark.parametrize("defines", [[], ["-DTM_INPUT_EMBEDDED=1"]], ids=["file-input", "embedded-input"])
def test_gap9_path_compiles_against_the_public_pmsis_declarations(app, tmp_path, defines):
    program, outdir = app
    sources = gap9_sources(outdir, program)
    assert any(s.startswith("kernels/src/") for s in sources) and "platform/pmsis/tm_xfer_pmsis.c" in sources
    proc = _cross_compile(outdir, sources, tmp_path, defines)
    assert proc.returncode == 0, proc.stderr
    nm = subprocess.run([CROSS.replace("gcc", "nm"), "-u", *sorted(str(p) for p in tmp_path.glob("*.o"))],
                        capture_output=True, text=True, check=True).stdout
    undefined = {line.split()[-1] for line in nm.splitlines() if line.strip().startswith("U ")}
    # the compiled GAP9 code really calls the SDK (cluster, DMA, RAM, readfs, GPIO, PMU), not a stand-in
    for symbol in ("pi_cluster_open", "pi_cluster_send_task_to_cl", "pi_cl_team_fork", "pi_cl_dma_cmd",
                   "pi_cl_dma_cmd_wait", "pi_cl_ram_read", "pi_cl_ram_read_wait", "pi_fs_mount", "pi_fs_read",
                   "pi_ram_alloc", "pi_ram_write", "pi_gpio_open", "pi_gpio_pin_configure", "pi_gpio_pin_write",
                   "pi_pad_set_function", "pi_pmu_voltage_set", "pi_freq_set", "pi_perf_read", "pmsis_exit"):
        assert symbol in undefined, symbol
    # main.c opens the weight image before the first inference; network.c moves data only through tm_xfer.h
    main_undefined = subprocess.run([CROSS.replace("gcc", "nm"), "-u", str(tmp_path / "main.o")],
                                    capture_output=True, text=True, check=True).stdout
    assert "tm_l3_open" in main_undefined


# What the previous app and its stub assumed; the public headers declare otherwise (see tests/pmsis_decls/pmsis.h).
OLD_ASSUMPTIONS = {
    "gpio without a device": "int f(void) { return pi_gpio_pin_configure((pi_gpio_e)89, PI_GPIO_OUTPUT); }",
    "gpio write returns void": "void f(void) { pi_gpio_pin_write((pi_gpio_e)89, 1); }",
    "pi_pad_function_set": "void f(void) { pi_pad_function_set((pi_pad_e)89, PI_PAD_FUNC1); }",
    "PI_PMU_VOLTAGE_DOMAIN_CHIP": "int f(void) { return pi_pmu_voltage_set(PI_PMU_VOLTAGE_DOMAIN_CHIP, 800); }",
    "PI_GPIO_OUTPUT is not 1": "_Static_assert(PI_GPIO_OUTPUT == 1, \"flag bit\");",
}


@needs_cross
@pytest.mark.parametrize("name", sorted(OLD_ASSUMPTIONS))
def test_the_old_assumed_signatures_do_not_compile(tmp_path, name):
    src = tmp_path / "old.c"
    src.write_text(f'#include "pmsis.h"\n{OLD_ASSUMPTIONS[name]}\n')
    proc = subprocess.run([CROSS, *CROSS_FLAGS, f"-I{DECLS}", "-c", str(src), "-o", str(tmp_path / "old.o")],
                          capture_output=True, text=True)
    assert proc.returncode != 0, name


def _l3_harness(app, tmp_path) -> Path:
    _, outdir = app
    exe = tmp_path / "l3"
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-DTM_PLATFORM_GAP9", f"-I{DECLS}", f"-I{outdir / 'platform'}",
                    f"-I{outdir / 'platform' / 'pmsis'}", f"-I{outdir / 'kernels' / 'inc'}", f"-I{outdir / 'network'}",
                    str(FAKES / "l3_readfs_fake.c"), str(outdir / "platform" / "gap9" / "tm_l3_gap9.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("case, env, message", [
    ("ok", {"TM_FAKE_FILE": "weights.bin", "TM_FAKE_BYTES": "40000"}, "copied 40000 bytes, 0 differ"),
    ("missing", {}, "weights.bin is not in the flash's readfs"),
    ("other size", {"TM_FAKE_FILE": "weights.bin", "TM_FAKE_BYTES": "39996"}, "has 39996 bytes, this network needs 40000"),
    ("short", {"TM_FAKE_FILE": "weights.bin", "TM_FAKE_BYTES": "40000", "TM_FAKE_READABLE": "20000"},
     "weights.bin is short: read 20000 of 40000 bytes"),
])
def test_l3_open_copies_the_readfs_image_once_or_says_why_not(app, tmp_path, case, env, message):
    """GAP9's tm_l3_open (readfs in flash -> RAM, 16 kB chunks) on a host harness of the public flash/readfs/RAM
    calls (tests/pmsis_fakes): the whole image lands at the allocated RAM base; a missing, other-size or short
    image prints why and fails."""
    exe = _l3_harness(app, tmp_path)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TM_FAKE_")}
    done = subprocess.run([str(exe), "weights.bin", "40000"], capture_output=True, text=True, env={**clean, **env},
                          timeout=60)
    assert message in done.stdout, done.stdout + done.stderr
    assert (done.returncode == 0) == (case == "ok")


# An SDK stand-in for the ONE documented behaviour the CMake project relies on: setup.cmake turns sdk.config into
# CMake variables CONFIG_* (a -D on the command line wins); setupos() here records what C would be compiled with.
FAKE_SETUP = textwrap.dedent("""\
    file(STRINGS ${CMAKE_SOURCE_DIR}/sdk.config lines REGEX "^CONFIG_[A-Z0-9_]+=")
    foreach(line ${lines})
        string(REGEX MATCH "^(CONFIG_[A-Z0-9_]+)=(.*)$" _ "${line}")
        if(NOT DEFINED ${CMAKE_MATCH_1})
            set(${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
        endif()
    endforeach()
    function(readfs_add_files)
    endfunction()
    function(setupos target)
        get_target_property(defs ${target} COMPILE_DEFINITIONS)
        file(WRITE ${CMAKE_BINARY_DIR}/defs.txt "${defs};GVSOC=${CONFIG_PLATFORM_GVSOC};BOARD=${CONFIG_PLATFORM_BOARD}")
    endfunction()
    """)


def _configure(app, tmp_path, *args) -> tuple[subprocess.CompletedProcess, list[str]]:
    _, outdir = app
    sdk = tmp_path / "sdk"
    (sdk / "utils" / "cmake").mkdir(parents=True, exist_ok=True)
    (sdk / "utils" / "cmake" / "setup.cmake").write_text(FAKE_SETUP)
    build = tmp_path / "build"
    shutil.rmtree(build, ignore_errors=True)
    proc = subprocess.run(["cmake", "-S", str(outdir), "-B", str(build), *args], capture_output=True, text=True,
                          env=dict(os.environ, GAP_SDK_HOME=str(sdk)), timeout=120)
    defs = (build / "defs.txt").read_text().split(";") if (build / "defs.txt").is_file() else []
    return proc, defs


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_kconfig_values_reach_c_through_cmake_and_board_never_runs_gvsoc(app, tmp_path):
    _, outdir = app
    default = get_operating_point(None)
    proc, defs = _configure(app, tmp_path, "-UCONFIG_PLATFORM_GVSOC", "-DCONFIG_PLATFORM_BOARD=y")
    assert proc.returncode == 0, proc.stderr
    assert f"TM_OPERATING_POINT_{default.macro}" in defs and f"TM_POWER_GPIO_PIN={DEFAULT_POWER_GPIO}" in defs
    assert "BOARD=y" in defs and "GVSOC=" in defs and "GVSOC=y" not in defs
    other = next(op for op in OPERATING_POINTS.values() if op.name != default.name)
    config = (outdir / "sdk.config").read_text()
    try:  # a menuconfig choice: another operating point and pin in sdk.config reach C
        (outdir / "sdk.config").write_text(config.replace(f"CONFIG_TM_OPERATING_POINT_{default.macro}=y",
                                                          f"CONFIG_TM_OPERATING_POINT_{other.macro}=y")
                                           .replace(f"CONFIG_TM_POWER_GPIO_PIN={DEFAULT_POWER_GPIO}",
                                                    "CONFIG_TM_POWER_GPIO_PIN=42"))
        proc, defs = _configure(app, tmp_path, "-DCONFIG_PLATFORM_GVSOC=y")
        assert proc.returncode == 0, proc.stderr
        assert f"TM_OPERATING_POINT_{other.macro}" in defs and "TM_POWER_GPIO_PIN=42" in defs
        assert f"TM_OPERATING_POINT_{default.macro}" not in defs
        # larger cluster stacks than the memory plan reserved are refused at configure time
        proc, _ = _configure(app, tmp_path, f"-DCONFIG_CL_MASTER_CORE_STACK_SIZE={2 * MASTER_STACK_BYTES}")
        assert proc.returncode != 0 and "CONFIG_CL_MASTER_CORE_STACK_SIZE" in proc.stderr
    finally:
        (outdir / "sdk.config").write_text(config)
