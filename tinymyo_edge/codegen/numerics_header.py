"""tm_numerics.h: the C view of numerics.py's constants, generated (never hand-copied into C)."""

from __future__ import annotations

from .. import numerics as nx


def numerics_constants() -> dict[str, int]:
    """Name -> value of every constant the C kernels read, each derived from numerics.py."""
    prob_levels = round(1.0 / nx.PROB_SCALE)
    if abs(prob_levels * nx.PROB_SCALE - 1.0) > 1e-12:
        raise ValueError("numerics.PROB_SCALE is not 1/integer: the C softmax assumes it is")
    return {
        "TM_ACT_ZERO_POINT": nx.ACT_ZERO_POINT,
        "TM_EXP_LUT_BITS": nx.EXP_LUT_BITS,
        "TM_PROB_LEVELS": prob_levels,
        "TM_DEFERRED_D_MAX": nx.DEFERRED_D_MAX,
    }


def render_numerics_header() -> str:
    lines = [
        "/* tm_numerics.h: GENERATED from tinymyo_edge/numerics.py by tinymyo_edge/codegen/numerics_header.py.",
        " * Do not edit: change numerics.py and rebuild. */",
        "#ifndef TM_NUMERICS_H",
        "#define TM_NUMERICS_H",
        "",
    ]
    lines += [f"#define {name} {value}" for name, value in numerics_constants().items()]
    lines += ["", "#endif /* TM_NUMERICS_H */", ""]
    return "\n".join(lines)
