"""An ESTIMATE of GAP9 cluster cycles, latency and energy per layer, calibrated on MEASURED pulp-open GVSoC cycles.

    matrix layers:  cycles = cycles_per_mac[kind] x MACs + cycles_per_output[kind] x outputs + fixed[kind]
    other layers:   cycles = cycles_per_element[kind] x elements     (outputs; inputs for token_mean/patch_features)
    latency = cycles / cluster frequency;   energy = latency x average power at the operating point

What is ASSUMED (not measured):
  - GAP9 cluster cycles = the cycles the same app takes on the open-source GVSoC pulp-open model with GAP9's 128 kB
    cluster L1 (docs/PULP_OPEN.md). pulp-open is a PULP cluster of 8 RI5CY cores, not GAP9: GAP9's cores, its TCDM
    bank conflicts, its DMA and its HyperRAM/OctoSPI timing are not those of the model.
  - The cycle count does not depend on the clock: the calibration run's L3 (HyperRAM) transfers are counted in its
    cycles as the simulator timed them, and that count is used at every operating point (on silicon, memory that is
    not clocked with the cluster takes fewer cluster cycles at a lower clock: the estimate ignores this).
  - Each kind's rate, measured on one or two shapes, holds for other shapes: fixed costs per layer (fork, DMA
    set-up, first transfers) are folded into the rates of 76,800-element layers, so small layers are underestimated
    (the 5-output classifier takes 25,231 cycles: fixed cost can be tens of thousands of cycles).
  - Average power: ARES's published GAP9 figure (TINYMYO.md), taken as the power at 370 MHz / 0.8 V, scaled to other
    operating points as f x V^2 (dynamic power only, leakage ignored).
Kinds with no calibration point borrow another kind's rate and are marked "assumed" in every table.

Calibration run: bench/results/gvsoc.json and bench/results/gvsoc_regression.json (both from
clean tinymyo-edge f28019d, GVSoC 209c147cbd29, the 8 x 1000 model at the default quantize settings,
classification and regression heads), key prefix l1_128k. Re-calibrate after every new bench_gvsoc.py run: the
constants below are copied from those files, and tests/test_cost_model.py fails when they disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..targets.operating_points import OPERATING_POINTS, OperatingPoint

MATMUL_KINDS = ("linear", "linear_lut", "linear_dequant", "attention", "conv1d", "rel_attention")

CALIBRATION = ("bench/results/gvsoc.json and gvsoc_regression.json (measured at clean f28019d), "
               "pulp-open GVSoC with 128 kB TCDM")

# ---- the measured cycles (pulp-open GVSoC, 128 kB TCDM), each with its key ------------------------------------------
# The default model's shapes: 400 tokens x 192 (76,800 activations a layer), MLP 768, 3 heads, 8 blocks.
# gvsoc.json details.l1_128k.layers.blocks_{0..7}_attn_{q,k,v,proj}.cycles, summed: 32 layers of 400 x 192 -> 192
QKVP_CYCLES, QKVP_LAYERS, QKVP_MACS, QKVP_OUTPUTS = 28_040_420, 32, 14_745_600, 76_800
# gvsoc.json details.l1_128k.layers.blocks_{0..7}_mlp_fc2.cycles, summed: 8 layers of 400 x 768 -> 192
FC2_CYCLES, FC2_LAYERS, FC2_MACS, FC2_OUTPUTS = 24_707_665, 8, 58_982_400, 76_800
# gvsoc.json details.l1_128k.layers.blocks_{0..7}_mlp_fc1.cycles, summed: 8 linear_lut layers of 400 x 192 -> 768
FC1_CYCLES, FC1_LAYERS, FC1_MACS, FC1_OUTPUTS = 27_976_836, 8, 58_982_400, 307_200
# gvsoc.json details.l1_128k.layers.model_head_classifier.cycles: linear_dequant 1 x 1536 -> 5
CLASSIFIER_CYCLES, CLASSIFIER_MACS, CLASSIFIER_OUTPUTS = 25_140, 7_680, 5
# gvsoc.json metrics l1_128k.attention.cycles: 8 layers of 3 heads x 400 x 400 x 64 x 2 = 61,440,000 MACs each
ATTENTION_CYCLES, ATTENTION_MACS = 33_955_326, 8 * 61_440_000
# per-element kinds: (cycles, layers, elements a layer, key)
ELEMENT_POINTS: dict[str, tuple[int, int, int, str]] = {
    "layernorm": (2_569_226, 17, 76_800, "gvsoc.json metrics l1_128k.other.layernorm.cycles"),
    "residual_add": (1_573_802, 16, 76_800, "gvsoc.json metrics l1_128k.other.residual_add.cycles"),
    "quantize_input": (124_253, 1, 8_000, "gvsoc.json metrics l1_128k.other.quantize_input.cycles (8 x 1000)"),
    "token_mean": (200_001, 1, 76_800, "gvsoc.json metrics l1_128k.other.token_mean.cycles (per input element)"),
    "patch_features": (329_725, 1, 76_800, "gvsoc_regression.json metrics l1_128k.other.patch_features.cycles "
                                           "(per input element)"),
    "depthwise_conv1d_lut": (201_935, 1, 12_800, "gvsoc_regression.json metrics "
                                                 "l1_128k.other.depthwise_conv1d_lut.cycles (50 x 256 outputs)"),
    "interpolate": (15_831, 1, 2_500, "gvsoc_regression.json metrics l1_128k.other.interpolate.cycles"),
}
# kinds never measured: the kind whose rate they borrow (an assumption, labelled "assumed")
BORROWED = {"conv1d": "linear", "rel_attention": "attention", "depthwise_conv1d": "depthwise_conv1d_lut",
            "lut": "residual_add", "transpose": "residual_add"}

# ---- average power: ARES's published GAP9 deployment (TINYMYO.md, "The published GAP9 deployment") ---------------
ARES_CYCLES = 304_952_643  # their GVSoC cluster cycles, 8 ch x 1000 (TINYMYO.md)
ARES_MACS = 1_921_305_685
ARES_LATENCY_S = 0.785  # paper v2, on GAP9 (TINYMYO.md)
ARES_ENERGY_J = 44.91e-3  # paper v2 (TINYMYO.md); its "power envelope" is 57.18 mW
ARES_POWER_W = ARES_ENERGY_J / ARES_LATENCY_S  # 57.21 mW: energy / latency (the paper's 57.18 mW, rounded 0.785 s)
POWER_REFERENCE = OPERATING_POINTS["370MHz"]  # ASSUMED: the paper does not state its clock (GAP9.md's usual point)
POWER_SOURCE = (f"{ARES_POWER_W * 1e3:.2f} mW at {POWER_REFERENCE.name}/{POWER_REFERENCE.voltage_mv} mV = ARES's "
                f"44.91 mJ / 0.785 s (TINYMYO.md; the paper's envelope 57.18 mW), assumed at that operating point; "
                f"other points scaled by f x V^2 (voltages from GAP9.md via operating_points.py), leakage ignored")


def average_power_w(op: OperatingPoint) -> float:
    """ESTIMATED average GAP9 power while inferring at `op`: ARES's figure scaled by f x V^2."""
    return ARES_POWER_W * (op.cluster_hz / POWER_REFERENCE.cluster_hz) * (op.voltage_mv / POWER_REFERENCE.voltage_mv) ** 2


@dataclass(frozen=True)
class CostModel:
    name: str
    cycles_per_mac: dict[str, float]
    cycles_per_output: dict[str, float]
    fixed_cycles: dict[str, float]  # per layer, matrix kinds
    cycles_per_element: dict[str, float]
    sources: dict[str, str]  # kind -> where its constants come from

    def assumptions(self) -> dict[str, str]:
        """Each kind's constants with their source, for the profile's JSON and table footer."""
        out = {"gap9_cycles": "ASSUMED equal to pulp-open GVSoC cycles with GAP9's 128 kB cluster L1 (" + CALIBRATION
                              + "); the same cycle count at every operating point",
               "power": POWER_SOURCE}
        for kind, source in self.sources.items():
            if kind in self.cycles_per_mac:
                out[kind] = (f"{self.cycles_per_mac[kind]:.6f} cycles/MAC, {self.cycles_per_output[kind]:.3f} "
                             f"cycles/output, {self.fixed_cycles[kind]:.0f} cycles/layer ({source})")
            else:
                out[kind] = f"{self.cycles_per_element[kind]:.3f} cycles/element ({source})"
        return out


def calibrated_model() -> CostModel:
    """The constants derived from the measured points above (every step written here)."""
    qkvp, fc2, fc1 = QKVP_CYCLES / QKVP_LAYERS, FC2_CYCLES / FC2_LAYERS, FC1_CYCLES / FC1_LAYERS
    # linear: the same 76,800 outputs with 4x the MACs (fc2 vs q/k/v/proj): the difference is the MAC cost
    per_mac = (fc2 - qkvp) / (FC2_MACS - QKVP_MACS)
    per_out = (qkvp - per_mac * QKVP_MACS) / QKVP_OUTPUTS
    per_out_lut = (fc1 - per_mac * FC1_MACS) / FC1_OUTPUTS  # fc1: same MAC cost, its outputs through the GELU table
    fixed_dequant = CLASSIFIER_CYCLES - per_mac * CLASSIFIER_MACS - per_out * CLASSIFIER_OUTPUTS
    lin_src = "fitted exactly to the mean q/k/v/proj and fc2 layers: gvsoc.json l1_128k blocks_*_attn_{q,k,v,proj}, " \
              "blocks_*_mlp_fc2"
    mac = {"linear": per_mac, "linear_lut": per_mac, "linear_dequant": per_mac,
           "attention": ATTENTION_CYCLES / ATTENTION_MACS}
    out = {"linear": per_out, "linear_lut": per_out_lut, "linear_dequant": per_out, "attention": 0.0}
    fixed = {"linear": 0.0, "linear_lut": 0.0, "linear_dequant": fixed_dequant, "attention": 0.0}
    sources = {"linear": lin_src,
               "linear_lut": lin_src + "; cycles/output from blocks_*_mlp_fc1",
               "linear_dequant": lin_src + "; cycles/layer from model_head_classifier",
               "attention": "gvsoc.json metrics l1_128k.attention.cycles / MACs (one shape: 400 tokens, 3 heads x 64; "
                            "cycles assumed proportional to MACs at other shapes)"}
    element = {kind: (cycles / layers) / elements for kind, (cycles, layers, elements, _) in ELEMENT_POINTS.items()}
    sources.update({kind: key for kind, (_, _, _, key) in ELEMENT_POINTS.items()})
    for kind, like in BORROWED.items():
        for table in (mac, out, fixed) if like in mac else (element,):
            table[kind] = table[like]
        sources[kind] = f"assumed: not measured, the rate of {like}"
    return CostModel("pulp-open-128k", mac, out, fixed, element, sources)


COST_MODELS: dict[str, CostModel] = {m.name: m for m in (calibrated_model(),)}
DEFAULT_COST_MODEL = "pulp-open-128k"
UNKNOWN_KIND_CYCLES_PER_ELEMENT = 4.0  # a kind absent from every table (none today): assumed


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
    cycles: float
    basis: str  # "calibrated" (the kind was measured) or "assumed" (borrowed or unknown rate)


def estimate_layer(work: LayerWork, model: CostModel) -> LayerEstimate:
    """ESTIMATED GAP9 cluster cycles of one layer; no operating point: cycles do not depend on the clock."""
    basis = "assumed" if work.kind in BORROWED or work.kind not in model.sources else "calibrated"
    if work.kind in model.cycles_per_mac:
        cycles = (model.cycles_per_mac[work.kind] * work.macs + model.cycles_per_output[work.kind] * work.elements
                  + model.fixed_cycles[work.kind])
    else:
        cycles = work.elements * model.cycles_per_element.get(work.kind, UNKNOWN_KIND_CYCLES_PER_ELEMENT)
    return LayerEstimate(cycles, basis)
