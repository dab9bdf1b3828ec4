"""CTC decoding of (N, V) logits: greedy (the reference of gap9_app/src/tm_ctc.c), and the host-side beam hook.

Greedy: per frame the FIRST index of the largest logit (numpy argmax; the C loop keeps the first maximum too),
repeats collapsed, the blank dropped, indices mapped to CTC_CHARS ('|' is the word separator, shown as a space by
`as_words`). Beam search with a language model stays on the host: pass any `BeamDecoder` (a callable taking the
(N, V) log-probabilities and returning text) to `decode`, e.g. a wrapper of torchaudio's
`ctc_decoder(lexicon=..., tokens=list(CTC_CHARS) + ["_"], lm="lm.bin", blank_token="_", sil_token="|")`
as the authors' recognition_model.py builds it (KenLM 4-gram, beam 150-1500).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..model.speech import CTC_BLANK, CTC_CHARS

BeamDecoder = Callable[[np.ndarray], str]


def greedy_decode(logits: np.ndarray, blank: int = CTC_BLANK, alphabet: str = CTC_CHARS) -> str:
    """(N, V) logits -> text. len(alphabet) must be V - 1 (every index but the blank)."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or len(alphabet) != logits.shape[1] - 1 or not 0 <= blank < logits.shape[1]:
        raise ValueError(f"logits {logits.shape}: expected (N, {len(alphabet) + 1}) with the blank in range")
    best = logits.argmax(axis=1)
    keep = (best != blank) & np.concatenate([[True], best[1:] != best[:-1]])
    return "".join(alphabet[i if i < blank else i - 1] for i in best[keep])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def decode(logits: np.ndarray, beam: BeamDecoder | None = None) -> str:
    """Greedy on the device's logits, or the host's beam search (+ LM) when a decoder is given."""
    return greedy_decode(logits) if beam is None else beam(log_softmax(logits))


def write_texts(logits: np.ndarray, path, *, force: bool = False) -> None:
    """Greedy text of each window's (N, V) logits, one line each, written atomically."""
    from ..errors import TinyMyoError
    from ..fileio import atomic_path

    logits = np.asarray(logits)
    if logits.ndim != 3 or logits.shape[-1] != CTC_BLANK + 1:
        raise TinyMyoError(f"{path}: not written: outputs of shape {list(logits.shape[1:])} are not CTC logits "
                           f"(tokens, {CTC_BLANK + 1})")
    with atomic_path(Path(path), force=force) as tmp:
        Path(tmp).write_text("".join(greedy_decode(y) + "\n" for y in logits))


def as_words(text: str) -> str:
    return text.replace("|", " ")


def character_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Levenshtein edits (substitutions + insertions + deletions) over reference characters, summed over pairs."""
    edits = sum(_edits(r, h) for r, h in zip(references, hypotheses, strict=True))
    return edits / max(1, sum(len(r) for r in references))


def _edits(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
