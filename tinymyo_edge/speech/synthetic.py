"""A synthetic EMG-to-text task with a real CTC training signal (the Gaddy data is not reachable here).

Each utterance spells a short random word over SYMBOLS; each symbol is a burst of a symbol-specific pattern (two
channels carry a sinusoid of the symbol's frequency under a Hann envelope) at a random onset, separated by rest,
plus noise on every channel. A model must learn which burst means which character and emit them in order: CTC
alignment is not given. `train_ctc` fits a SpeechModel on it with F.ctc_loss (blank = CTC_BLANK, as upstream).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..model.speech import CTC_BLANK, CTC_CHARS, SpeechConfig, SpeechModel

SYMBOLS = "abcdef"


@dataclass(frozen=True)
class SyntheticSpeech:
    x: np.ndarray  # (N, C, T) float32
    texts: list[str]


def make_utterances(count: int, *, channels: int = 8, samples: int = 480, min_len: int = 2, max_len: int = 4,
                    noise: float = 0.3, seed: int = 0) -> SyntheticSpeech:
    rng = np.random.default_rng(seed)
    x = (noise * rng.standard_normal((count, channels, samples))).astype(np.float32)
    texts = []
    for n in range(count):
        length = int(rng.integers(min_len, max_len + 1))
        word = "".join(rng.choice(list(SYMBOLS), size=length))
        slot = samples // length
        for i, ch in enumerate(word):
            k = SYMBOLS.index(ch)
            width = int(rng.integers(slot // 2, slot - 8))
            start = i * slot + int(rng.integers(0, slot - width))
            t = np.arange(width)
            burst = np.hanning(width) * np.sin(2 * np.pi * (0.04 + 0.03 * k) * t)
            for c in (k % channels, (k + 3) % channels):
                x[n, c, start : start + width] += (1.5 * burst).astype(np.float32)
        texts.append(word)
    return SyntheticSpeech(x, texts)


def encode_text(text: str) -> list[int]:
    return [CTC_CHARS.index(ch) for ch in text]


def train_ctc(data: SyntheticSpeech, cfg: SpeechConfig, *, seconds: float = 60.0, steps: int = 3000,
              batch: int = 16, lr: float = 2e-3, seed: int = 0) -> tuple[SpeechModel, dict]:
    """Adam on the CTC loss until `steps` or `seconds` (wall clock, one thread) run out. Returns (model, log)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SpeechModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    targets = [torch.tensor(encode_text(t)) for t in data.texts]
    x_all = torch.from_numpy(data.x)
    start, losses, step = time.perf_counter(), [], 0
    model.train()
    while step < steps and time.perf_counter() - start < seconds:
        idx = rng.choice(len(data.x), size=min(batch, len(data.x)), replace=False)
        logp = F.log_softmax(model(x_all[idx]), dim=-1).transpose(0, 1)  # (N tokens, B, V)
        tgt = [targets[i] for i in idx]
        loss = F.ctc_loss(logp, torch.cat(tgt), torch.full((len(idx),), logp.shape[0], dtype=torch.long),
                          torch.tensor([len(t) for t in tgt]), blank=CTC_BLANK, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
    model.eval()
    return model, {"steps": step, "seconds": time.perf_counter() - start, "first_loss": losses[0],
                   "last_loss": float(np.mean(losses[-20:]))}
