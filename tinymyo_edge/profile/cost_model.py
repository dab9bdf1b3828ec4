"""An ESTIMATE of GAP9 cluster cycles per layer, from MACs, element counts and bytes moved per memory level.

Every number here is an assumption, written once, with where it comes from. The model is deliberately simple:

    compute  = MACs / mac_per_cycle  +  elements x cycles_per_element[kind] / cores
    dma_l1   = bytes moved L2 <-> L1 / l1_bytes_per_cycle
    dma_l3   = weight bytes streamed L3 -> L2 / (l3_bytes_per_second / cluster_hz)
    cycles   = max(compute, dma_l1, dma_l3) + layer_overhead + tiles x tile_overhead     (double buffering: the DMA
                                                                                           overlaps the compute)
It is for ranking layers and sizing the gap to a target before a GVSoC/board run, not a substitute for one: a
`Cycles:` log from gvsoc/board replaces it in the profile table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MATMUL_KINDS = ("linear", "linear_lut", "linear_dequant", "attention", "conv1d", "rel_attention")


@dataclass(frozen=True)
class CostModel:
    name: str
    mac_per_cycle: float  # int8 MACs per cluster cycle, all cores, for the GEMM-shaped layers
    mac_source: str
    cores: int = 8
    # cluster cycles per element per core for the non-MAC work of each kind (requantisation, tables, divisions)
    cycles_per_element: dict[str, float] = field(default_factory=lambda: dict(CYCLES_PER_ELEMENT))
    softmax_cycles_per_score: float = 32.0  # requant 8 + table 2 + sum 1 + division ~20 + store 1
    l1_bytes_per_cycle: float = 8.0  # cluster DMA: one 64-bit beat per cycle
    l3_bytes_per_second: float = 300e6  # OctoSPI/HyperBus PSRAM: 8 bit DDR at 200 MHz = 400 MB/s peak, 75 % used
    layer_overhead_cycles: float = 2000.0  # fork of 8 cores, barriers, DMA programming per layer
    tile_overhead_cycles: float = 300.0  # per L1 tile: DMA descriptors, pointer set-up, loop entry

    def assumptions(self) -> dict[str, str]:
        """Each parameter with its source, for the profile's JSON and table footer."""
        return {
            "mac_per_cycle": f"{self.mac_per_cycle} ({self.mac_source})",
            "cores": f"{self.cores} (GAP9 cluster workers, GAP9.md)",
            "cycles_per_element": f"{self.cycles_per_element} per core (assumed: instruction counts of the C "
                                  "kernels' inner loops on an RI5CY-class core with FPU and an iterative divider; "
                                  "not measured)",
            "softmax_cycles_per_score": f"{self.softmax_cycles_per_score} per core (assumed, same basis)",
            "l1_bytes_per_cycle": f"{self.l1_bytes_per_cycle} (assumed: cluster DMA moves one 64-bit beat a cycle)",
            "l3_bytes_per_second": f"{self.l3_bytes_per_second:.0f} (assumed: 8-bit DDR PSRAM/HyperRAM at 200 MHz "
                                   "= 400 MB/s peak, 75 % efficiency)",
            "layer_overhead_cycles": f"{self.layer_overhead_cycles} (assumed: fork, barriers, DMA set-up)",
            "tile_overhead_cycles": f"{self.tile_overhead_cycles} (assumed)",
            "overlap": "DMA fully overlapped with compute (double-buffered tiles and slabs, as the memory plan "
                       "allocates them); bank conflicts ignored",
        }


CYCLES_PER_ELEMENT: dict[str, float] = {
    "quantize_input": 20.0,  # float division, round, saturate
    "linear": 8.0,  # per output: int -> float, multiply, round, saturate, store
    "linear_lut": 10.0,  # + table lookup
    "linear_dequant": 6.0,  # int -> float, multiply, store
    "attention": 8.0,  # per output (p . v requantisation); the scores are counted by softmax_cycles_per_score
    "layernorm": 13.0,  # integer: 12-instruction affine loop + the moments (2 sdotp per 4 codes), one division per row
    "residual_add": 9.0,  # integer: 2 loads, 2 p.mac, shift, add, clip, store (tm_xpulp_norm.h)
    "lut": 2.0,
    "token_mean": 1.0,  # per input element
    "patch_features": 1.0,
    "depthwise_conv1d": 12.0,  # 3 MACs + requantisation
    "depthwise_conv1d_lut": 14.0,
    "interpolate": 6.0,
    "conv1d": 8.0,  # per output, as linear (the MACs are counted at mac_per_cycle)
    "rel_attention": 8.0,  # as attention; its scores (pairs inside the window) by softmax_cycles_per_score
    "transpose": 2.0,
}

COST_MODELS: dict[str, CostModel] = {
    m.name: m
    for m in (
        CostModel("sdotp", 7.15, "GAP9.md: int8 GEMM 32x32x64 with sdotp, one output per inner loop, 8 cores, "
                                 "measured on open-source GVSoC pulp-open: 9,164 cycles = 7.15 MAC/cycle; the "
                                 "library's GAP9 dot product is this form"),
        CostModel("sdotp-2x2-hwloop", 13.2, "GAP9.md: hardware loop + post-increment loads + sdotp, 2x2 register "
                                            "blocking, 8 cores, measured on GVSoC pulp-open: 13.2 MAC/cycle"),
    )
}
DEFAULT_COST_MODEL = "sdotp"


@dataclass(frozen=True)
class LayerWork:
    """What the model needs of one layer (filled from the build folder by profile.report)."""

    name: str
    kind: str
    macs: int
    elements: int  # output elements (input elements for reductions)
    scores: int  # attention score elements (heads x N x N), else 0
    l3_bytes: int  # weights streamed L3 -> L2
    l1_bytes: int  # bytes moved L2 <-> L1
    tiles: int


@dataclass(frozen=True)
class LayerEstimate:
    compute_cycles: float
    dma_l1_cycles: float
    dma_l3_cycles: float
    cycles: float
    bound: str  # "compute", "L2<->L1 DMA" or "L3 DMA"


def estimate_layer(work: LayerWork, model: CostModel, cluster_hz: float) -> LayerEstimate:
    per_element = model.cycles_per_element.get(work.kind, 4.0)
    mac_cycles = work.macs / model.mac_per_cycle if work.kind in MATMUL_KINDS else 0.0  # else: in per_element
    compute = mac_cycles + (work.elements * per_element + work.scores * model.softmax_cycles_per_score) / model.cores
    dma_l1 = work.l1_bytes / model.l1_bytes_per_cycle
    dma_l3 = work.l3_bytes / (model.l3_bytes_per_second / cluster_hz)
    bound, top = max((("compute", compute), ("L2<->L1 DMA", dma_l1), ("L3 DMA", dma_l3)), key=lambda t: t[1])
    cycles = top + model.layer_overhead_cycles + work.tiles * model.tile_overhead_cycles
    return LayerEstimate(compute, dma_l1, dma_l3, cycles, bound)
