"""The GAP9 application: generated files follow the SDK conventions; platform=host runs the same main.c against
the PMSIS shim and reproduces the golden executor exactly; the SDK platforms stop cleanly without the SDK."""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pytest

from app_helpers import build_small_app, golden, same_bits
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.targets.app import sample_window, write_app
from tinymyo_edge.targets.app_run import run_app
from tinymyo_edge.targets.operating_points import OPERATING_POINTS, get_operating_point


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_small_app(tmp_path_factory.mktemp("app") / "app")


def app_c_sources(outdir) -> str:
    """main.c and the platform layer the GAP9 build compiles (CMakeLists' TARGET_SRCS minus the network)."""
    files = ["main.c", "app_config.h", "platform/tm_platform.h", "platform/tm_chip.c", "platform/tm_layers.c", "platform/gap9/tm_platform_gap9.c"]
    return "\n".join((outdir / f).read_text() for f in files)


def test_app_uses_the_pmsis_skeleton(app):
    _, outdir = app
    text = app_c_sources(outdir)
    for call in ("pi_cluster_conf_init", "pi_open_from_conf", "pi_cluster_open", "pi_cluster_task",
                 "pi_cluster_send_task_to_cl", "pi_cluster_close", "pi_freq_set(PI_FREQ_DOMAIN_FC",
                 "pi_freq_set(PI_FREQ_DOMAIN_CL", "pi_pmu_voltage_set", "pi_perf_conf(1 << PI_PERF_CYCLES)",
                 "pi_perf_reset", "pi_perf_start", "pi_perf_stop", "pi_perf_read(PI_PERF_CYCLES)",
                 "pi_gpio_pin_configure", "pi_gpio_pin_write", "pi_fs_mount", "pmsis_kickoff", "pmsis_exit"):
        assert call in text, call
    main = (outdir / "main.c").read_text()
    # in the cluster task, the GPIO is high exactly around the network call
    entry = main[main.index("static void cluster_entry"):main.index("static int open_cluster")]
    window = entry[entry.index("tm_power_window(1)"):entry.index("tm_power_window(0)")]
    assert "tm_network_run(input, output)" in window
    assert "pi_cluster_task_stacks(&task, NULL, TM_CLUSTER_WORKER_STACK)" in main


def test_cmake_kconfig_sdkconfig_follow_the_sdk(app):
    _, outdir = app
    cmake = (outdir / "CMakeLists.txt").read_text()
    assert "include($ENV{GAP_SDK_HOME}/utils/cmake/setup.cmake)" in cmake
    assert re.search(r"^project\(\$\{TARGET_NAME\} C ASM\)", cmake, re.M)
    assert cmake.rstrip().endswith("setupos(${TARGET_NAME})")
    assert "TM_PLATFORM_GAP9" in cmake and "-ffp-contract=off" in cmake
    for src in ("main.c", "network/network.c", "network/weights.c", "platform/gap9/tm_platform_gap9.c"):
        assert src in cmake, src
    assert 'readfs_add_files(FILES "${CMAKE_CURRENT_SOURCE_DIR}/network/weights.bin")' in cmake  # L3 weights
    config = dict(line.split("=", 1) for line in (outdir / "sdk.config").read_text().splitlines()
                  if line and not line.startswith("#"))
    for key in ("CONFIG_PLATFORM_GVSOC", "CONFIG_DRIVER_CLUSTER", "CONFIG_DRIVER_GPIO", "CONFIG_DRIVER_HOSTFS",
                "CONFIG_DRIVER_READFS"):
        assert config.get(key) == "y", key
    default = get_operating_point(None)
    assert config["CONFIG_FREQUENCY_CLUSTER"] == str(default.cluster_hz)
    assert config[f"CONFIG_TM_OPERATING_POINT_{default.macro}"] == "y"
    kconfig = (outdir / "Kconfig").read_text()
    assert 'source "$(GAP_SDK_HOME)/utils/kconfig/Kconfig"' in kconfig
    for op in OPERATING_POINTS.values():
        assert f"config TM_OPERATING_POINT_{op.macro}" in kconfig


def test_operating_points_come_from_the_python_table(app):
    _, outdir = app
    header = (outdir / "app_config.h").read_text()
    for op in OPERATING_POINTS.values():
        block = header[header.index(f"TM_OPERATING_POINT_{op.macro})"):]
        block = block[:block.index("#define TM_VOLTAGE_MV") + 40]
        assert f"#define TM_FC_HZ {op.fc_hz}u" in block
        assert f"#define TM_CLUSTER_HZ {op.cluster_hz}u" in block
        assert f"#define TM_VOLTAGE_MV {op.voltage_mv}u" in block
    assert get_operating_point("240").voltage_mv < get_operating_point("370MHz").voltage_mv
    with pytest.raises(TinyMyoError, match="unknown operating point"):
        get_operating_point("999MHz")


def test_an_unknown_operating_point_stops_the_build(app):
    _, outdir = app
    run = run_app(outdir, "host", make_vars={"OPERATING_POINT": "999MHz"})
    assert run.returncode != 0
    assert "unknown OPERATING_POINT" in run.log and all(name in run.log for name in OPERATING_POINTS)


def test_host_run_is_exact_and_sanitizer_clean(app):
    program, outdir = app
    run = run_app(outdir, "host", make_vars={"SANITIZE": "1", "OPERATING_POINT": "240MHz"},
                  output_shape=program.tensors[program.output].shape)
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    assert same_bits(run.output, golden(program, x))
    assert run.counters.errors == (0, run.output.size)
    assert "operating point 240MHz" in run.log
    assert run.counters.unit == "Nanoseconds"


def test_host_counters_name_every_layer_in_network_order(app):
    program, outdir = app
    import json

    layers = [entry["layer"] for entry in json.loads((outdir / "build.json").read_text())["layers"]]
    run = run_app(outdir, "host")
    assert list(run.counters.layers) == layers
    assert run.counters.total[1] == sum(ops for _, ops in run.counters.layers.values())
    macs = json.loads((outdir / "build.json").read_text())["macs"]
    assert run.counters.total[1] == macs
    printed = run.counters.output_bits
    assert [printed[i] for i in sorted(printed)] == list(np.ascontiguousarray(run.output, "<f4").view("<u4").ravel())
    expected_class = int(np.argmax(golden(program, np.fromfile(outdir / "input.bin", "<f4").reshape(
        program.tensors[program.input].shape))))
    assert run.counters.predicted_class == expected_class


def test_host_run_on_another_window_and_a_wrong_expectation(app):
    program, outdir = app
    shape = program.tensors[program.input].shape
    x = sample_window(shape, seed=7) * np.float32(3.0)  # large values: saturating codes too
    want = golden(program, x)
    ok = run_app(outdir, "host", x=x, expected=want)
    assert ok.returncode == 0, ok.log
    assert same_bits(ok.output, want)
    wrong = want.copy()
    wrong.reshape(-1)[0] = np.nextafter(wrong.reshape(-1)[0], np.float32(np.inf))  # one ulp away
    bad = run_app(outdir, "host", x=x, expected=wrong)
    assert bad.returncode != 0
    assert bad.counters.errors == (1, want.size)


def test_embedded_input_gives_the_same_output(app):
    program, outdir = app
    run = run_app(outdir, "host", make_vars={"INPUT": "embedded"})
    assert run.returncode == 0, run.log
    x = np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)
    assert same_bits(run.output.reshape(-1), golden(program, x).reshape(-1))


@pytest.mark.parametrize("platform", ["gvsoc", "board"])
def test_sdk_platforms_stop_cleanly_without_the_sdk(app, platform):
    _, outdir = app
    env = {k: v for k, v in os.environ.items() if k != "GAP_SDK_HOME"}
    proc = subprocess.run(["make", "-C", str(outdir), "run", f"platform={platform}"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "GAP_SDK_HOME" in proc.stdout + proc.stderr
    assert "GAP9 SDK" in proc.stdout
    assert not (outdir / "build" / platform).exists()  # stopped before building anything


def test_unknown_platform_is_refused(app):
    _, outdir = app
    proc = subprocess.run(["make", "-C", str(outdir), "run", "platform=gap8"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown platform" in proc.stdout
    with pytest.raises(TinyMyoError, match="unknown platform"):
        run_app(outdir, "gap8")


def test_write_app_needs_the_network_code_and_a_matching_sample(tmp_path, app):
    program, outdir = app
    with pytest.raises(TinyMyoError, match="network/network.c"):
        write_app(tmp_path, program)
    with pytest.raises(TinyMyoError, match="sample input has shape"):
        write_app(outdir, program, sample=np.zeros((3, 3), np.float32))


def test_app_built_from_int8_onnx_matches_onnxruntime(tmp_path):
    """The user's path: int8 ONNX -> build(target="gap9") -> make run platform=host == onnxruntime, exactly."""
    import onnx

    from app_helpers import small_config
    from program_factory import make_random_program
    from tinymyo_edge.build.core import build
    from tinymyo_edge.quant import run_int8
    from tinymyo_edge.quant.encoding import program_to_onnx

    program = make_random_program(small_config(classes=4), seed=3)
    out_shape = (1, *program.tensors[program.output].shape[1:])
    model_path = tmp_path / "model.int8.onnx"
    onnx.save(program_to_onnx(program, "x", "y", out_shape), str(model_path))
    outdir = tmp_path / "app"
    build(model_path, outdir, target="gap9")
    assert (outdir / "main.c").is_file() and (outdir / "platform" / "Makefile.front").is_file()
    x = sample_window(program.tensors[program.input].shape, seed=11)
    reference = np.asarray(run_int8(model_path, x), dtype=np.float32).reshape(program.tensors[program.output].shape)
    run = run_app(outdir, "host", x=x, expected=reference)
    assert run.returncode == 0, run.log
    assert same_bits(run.output, reference)


def test_gap9_code_paths_compile_against_the_assumed_sdk_api(app):
    """main.c and platform/ with TM_PLATFORM_GAP9, against a stub declaring only the PMSIS calls the app makes
    (tests/gap9_sdk_stub): catches C errors in code the host and rv32 builds never compile. The SDK itself is not
    available here, so the signatures are the app's assumptions, not a check of the SDK."""
    import shutil
    from pathlib import Path

    _, outdir = app
    gcc = shutil.which("gcc") or shutil.which("cc")
    stub = Path(__file__).parent / "gap9_sdk_stub"
    for src in ("main.c", "platform/tm_layers.c", "platform/tm_chip.c", "platform/gap9/tm_platform_gap9.c"):
        for embedded in ("0", "1"):
            proc = subprocess.run([gcc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                                   "-DTM_PLATFORM_GAP9", f"-DTM_INPUT_EMBEDDED={embedded}", f"-I{stub}", "-I.",
                                   "-Iplatform", "-Inetwork", "-Ikernels/inc", "-include", "platform/tm_layer_hooks.h", src],
                                  cwd=outdir, capture_output=True, text=True)
            assert proc.returncode == 0, f"{src}:\n{proc.stderr}"


def test_host_and_rv32_runs_on_real_emg_windows(app, real_windows):
    """Real forearm EMG (3DC, participant 1): the app's output == the golden executor on every window, on the
    host and, when its tools are installed, on rv32."""
    from tinymyo_edge.targets.rv32 import missing_tools

    program, outdir = app
    channels, samples = program.tensors[program.input].shape
    platforms = ["host"] + ([] if missing_tools() else ["rv32"])
    for x in real_windows(channels, samples, 2):
        want = golden(program, x)
        for platform in platforms:
            run = run_app(outdir, platform, x=x, expected=want, timeout=300)
            assert run.returncode == 0, run.log
            assert same_bits(run.output, want), platform
