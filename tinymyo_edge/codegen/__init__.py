"""Codegen: IR + memory plan -> C (network.c/h, weights.c/h/bin, tm_numerics.h, host harness) via templates/."""

from .names import c_identifier, comment_text, unique_identifiers
from .numerics_header import numerics_constants, render_numerics_header
from .render import Provenance, Rendered, dump_layers, render

__all__ = ["c_identifier", "comment_text", "unique_identifiers", "numerics_constants", "render_numerics_header",
           "Provenance", "Rendered", "dump_layers", "render"]
