"""Decoding the speech family's outputs on the host: greedy CTC (the C decoder's reference), CER, the beam hook."""

from .ctc import BeamDecoder, character_error_rate, decode, greedy_decode, log_softmax

__all__ = ["BeamDecoder", "character_error_rate", "decode", "greedy_decode", "log_softmax"]
