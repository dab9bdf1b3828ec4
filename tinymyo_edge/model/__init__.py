"""The PyTorch reference of TinyMyo and its checkpoint I/O."""

from .config import HEAD_KINDS, TinyMyoConfig
from .tinymyo import TinyMyo

__all__ = ["HEAD_KINDS", "TinyMyo", "TinyMyoConfig"]
