"""Memory levels of a target board: what the planner may hand out (bytes USABLE by the network).

A level's usable size is its total less what the runtime needs there, so no plan gives away memory the app needs:
  L1 (cluster TCDM): the cluster stacks (core 0's and one per worker: targets/app.py MASTER/WORKER_STACK_BYTES, the
      ONE definition the generated sdk.config and CMakeLists also use) and the PMSIS cluster runtime's own data;
  L2: the app's code and read-only data (kernels, PMSIS, libc), the FC stack, the app's I/O and reference buffers
      (float32 input, output, expected output, the weight-copy bounce buffer of tm_l3_open).
Sanity anchor for the GAP9 L2 figure: the public GAP9 NNTool apps give the AutoTiler 1,200,000 to 1,350,000 B of
the 1.5 MB L2 (github GreenWaves-Technologies/nn_menu_gap9: tiny_denoiser_v2/sdk.config CONFIG_MODEL_L2_MEMORY=
1200000, mobilenet/sdk.config 1350000; NNTool's own GAP9 default is 1,400,000 B): the usable L2 here must stay below
NNTOOL_GAP9_DEFAULT_L2 (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import TinyMyoError

KB = 1024
MB = 1024 * KB

NNTOOL_GAP9_DEFAULT_L2 = 1_400_000  # NNTool's GAP9 L2 default for the AutoTiler (a sanity anchor, see above)

# Cluster stacks: one definition, shared with the app (sdk.config CONFIG_CL_*_CORE_STACK_SIZE, CMakeLists check).
MASTER_STACK_BYTES = 4096  # cluster core 0: orchestration of the layers and the transfers
WORKER_STACK_BYTES = 2048  # each worker: kernel bodies (the linear kernel keeps a 1 KB int32 block on its stack)


def cluster_stack_bytes(cores: int) -> int:
    """L1 taken by the stacks: core 0's plus one per core of the team (GAP9: the 8 PE cores besides the cluster
    controller; counted for every core, so the figure is an upper bound where core 0 is also a worker)."""
    return MASTER_STACK_BYTES + WORKER_STACK_BYTES * cores


@dataclass(frozen=True)
class Board:
    """One board: L1 (cluster TCDM, tiles), L2 (activations arena, weight slabs, I/O), L3 (all weights).

    *_total_bytes are the hardware sizes; the reserves say what the runtime keeps; l1_bytes / l2_bytes (properties)
    are what the planner may use."""

    name: str
    l1_total_bytes: int
    l2_total_bytes: int
    l3_bytes: int
    l3_device: str
    cores: int
    weight_slab_bytes: int  # largest L3 -> L2 weight slab (two are resident: double buffering)
    alignment: int = 16  # every buffer offset in the arena
    l1_stack_bytes: int = 0  # cluster stacks in L1 (cluster_stack_bytes(cores))
    l1_runtime_bytes: int = 0  # PMSIS cluster runtime data in L1 (fork/team descriptors, DMA bookkeeping)
    l2_code_bytes: int = 0  # app code + read-only data in L2 (kernels, PMSIS, libc)
    l2_fc_stack_bytes: int = 0  # the FC's stack (main, tm_l3_open, printf)
    l2_io_bytes: int = 0  # app buffers outside the plan: float32 input/output/expected, weight-copy bounce buffer

    @property
    def l1_reserved_bytes(self) -> int:
        return self.l1_stack_bytes + self.l1_runtime_bytes

    @property
    def l2_reserved_bytes(self) -> int:
        return self.l2_code_bytes + self.l2_fc_stack_bytes + self.l2_io_bytes

    @property
    def l1_bytes(self) -> int:
        """L1 the plan may use: the total less the stacks and runtime data."""
        return self.l1_total_bytes - self.l1_reserved_bytes

    @property
    def l2_bytes(self) -> int:
        """L2 the plan may use: the total less code, FC stack and the app's I/O buffers."""
        return self.l2_total_bytes - self.l2_reserved_bytes

    def __post_init__(self):
        for level, usable in (("L1", self.l1_bytes), ("L2", self.l2_bytes)):
            if usable <= 0:
                raise TinyMyoError(f"board {self.name}: the reserves leave no {level} to plan ({usable} bytes)")

    def with_changes(self, **changes) -> "Board":
        """A copy with fields changed; l1_bytes= / l2_bytes= set the USABLE size (the reserves are kept)."""
        for level in ("l1", "l2"):
            if f"{level}_bytes" in changes:
                reserved = getattr(self, f"{level}_reserved_bytes")
                changes[f"{level}_total_bytes"] = changes.pop(f"{level}_bytes") + reserved
        return replace(self, **changes)


BOARDS: dict[str, Board] = {
    # GAP9: 128 kB L1, 1.5 MB L2. Reserves: stacks 4 kB + 8 x 2 kB = 20 kB (the app's own figures); 3,072 B of L1
    # for the PMSIS cluster runtime, as GreenWaves' GAP9 apps leave it (they give the AutoTiler 128,000 B of L1 less
    # their stacks: nn_menu_gap9 mobilenet/Makefile:78-85); the rest are ESTIMATED, not measured on a GAP9: 128 kB
    # of code (main.c, network, kernels and
    # platform compile to 19.9 kB of rv32imc -O2 text for a small test model, measured here; network.c grows with
    # the layers; the GAP9 SDK's runtime and libc are not public),
    # 8 kB FC stack, 96 kB of app I/O (a 16 x 1000 float32 input is 64 kB, plus output, expected and the 16 kB
    # weight-copy buffer of tm_l3_open).
    "gap9": Board("gap9", l1_total_bytes=128 * KB, l2_total_bytes=1536 * KB, l3_bytes=8 * MB, l3_device="hyperram",
                  cores=8, weight_slab_bytes=64 * KB, l1_stack_bytes=cluster_stack_bytes(8), l1_runtime_bytes=3 * KB,
                  l2_code_bytes=128 * KB, l2_fc_stack_bytes=8 * KB, l2_io_bytes=96 * KB),
    # pulp-open: the open-source GVSoC's PULP SoC (the open PULP SDK's PMSIS). Its 64 kB TCDM less the 8 cluster
    # stacks (9 kB) and control words: 54 kB usable; L2 = 1.5 MB less 256 kB kept in one figure for code, FC stack
    # and the 64 kB L3 slab buffer (the usable sizes are those of the previous, measured pulp-open runs).
    "pulp-open": Board("pulp-open", l1_total_bytes=64 * KB, l2_total_bytes=1536 * KB, l3_bytes=8 * MB,
                       l3_device="hyperflash", cores=8, weight_slab_bytes=64 * KB,
                       # the open PULP SDK allocates core 0's stack and 7 worker stacks of app_config.h in the TCDM
                       # (cluster.c: stack_size + slave_stack_size * (nb_cores - 1)); 1 kB for its other L1 data
                       l1_stack_bytes=cluster_stack_bytes(8), l1_runtime_bytes=1 * KB, l2_code_bytes=256 * KB),
    # pulp-open-128k: the same GVSoC pulp-open with its cluster L1 (TCDM) configured to GAP9's 128 kB (a local
    # build of the simulator whose cluster.json maps 0x20000 bytes of L1, with the PMSIS link script to match:
    # docs/PULP_OPEN.md); the same reserves as pulp-open, so only the L1 the planner may tile with changes.
    "pulp-open-128k": Board("pulp-open-128k", l1_total_bytes=128 * KB, l2_total_bytes=1536 * KB, l3_bytes=8 * MB,
                            l3_device="hyperflash", cores=8, weight_slab_bytes=64 * KB,
                            l1_stack_bytes=cluster_stack_bytes(8), l1_runtime_bytes=1 * KB, l2_code_bytes=256 * KB),
    # host: the same tiling logic with generous limits (the L1 tile size doubles as cache blocking); no reserves
    "host": Board("host", l1_total_bytes=256 * KB, l2_total_bytes=1024 * MB, l3_bytes=16 * 1024 * MB,
                  l3_device="ram", cores=1, weight_slab_bytes=1 * MB),
}


def get_board(board: "str | Board | None", target: str = "gap9") -> Board:
    """A Board from a preset name, a Board, or the target's default preset."""
    if isinstance(board, Board):
        return board
    name = board or ("host" if target == "host" else "gap9")
    if name not in BOARDS:
        raise TinyMyoError(f"unknown board {name!r}; known boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]
