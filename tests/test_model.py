"""The PyTorch reference: sizes, parameter counts of the published model, heads, export form."""

import pytest
import torch

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.model import TinyMyo, TinyMyoConfig


def test_published_parameter_counts():
    model = TinyMyo(TinyMyoConfig(channels=16, head="reconstruction"))
    assert model.encoder_parameter_count() == 3_563_520
    assert sum(p.numel() for p in model.parameters()) == 3_567_380


def test_regression_head_parameter_count_at_16_channels():
    model = TinyMyo(TinyMyoConfig(channels=16, head="regression", classes=5))
    assert sum(p.numel() for p in model.model_head.parameters()) == 788_997


@pytest.mark.parametrize(
    "head,reduction,shape",
    [("classification", "concat", (2, 5)), ("classification", "mean", (2, 5)),
     ("regression", "concat", (2, 500, 5)), ("regression", "mean", (2, 500, 5)), ("reconstruction", "concat", (2, 40, 20))],
)
def test_head_output_shapes(head, reduction, shape):
    cfg = TinyMyoConfig(channels=4, samples=200, dim=24, depth=1, heads=2, head=head, reduction=reduction)
    assert TinyMyo(cfg).eval()(torch.randn(2, 4, 200)).shape == shape


def test_export_form_computes_the_same_function():
    torch.manual_seed(0)
    model = TinyMyo(TinyMyoConfig(channels=3, samples=100, dim=24, depth=2, heads=3)).eval()
    x = torch.randn(1, 3, 100)
    batched = model(x)
    model.set_export_form(True)
    per_head = model(x)
    assert torch.allclose(batched, per_head, atol=1e-5)  # float: same maths, different summation order


def test_invalid_sizes_are_refused_with_the_reason():
    with pytest.raises(TinyMyoError, match="multiple of patch_size"):
        TinyMyoConfig(samples=1001)
    with pytest.raises(TinyMyoError, match="multiple of heads"):
        TinyMyoConfig(dim=100, heads=3)
