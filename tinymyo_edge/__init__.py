"""tinymyo-edge: TinyMyo from PyTorch to GAP9, exact from onnxruntime to the chip."""

__version__ = "0.1.0"
