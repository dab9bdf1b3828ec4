"""Fine-tuning TinyMyo on CPU with the upstream recipe (tinymyo-edge finetune)."""

from .finetune import Data, FinetuneResult, finetune, log_path_for
from .loop import evaluate, predict
from .recipe import Recipe

__all__ = ["Data", "FinetuneResult", "Recipe", "evaluate", "finetune", "log_path_for", "predict"]
