"""Which tensors would gain from an asymmetric zero point (helper linq, issue 14). Per tensor of the trained float
model (16 test windows): -min/max, and the int8 round-trip MSE of the symmetric grid (activation_scale mse) vs the
asymmetric one (activation_range mse, forced) -> the dB a zero point would gain locally.
usage: PYTHONPATH=$PWD python scripts/zero_point_skew.py CKPT_DIR   (model.safetensors + test.npz)"""
import sys, numpy as np, torch
torch.set_num_threads(1)
from tinymyo_edge.model.checkpoint import load_checkpoint
from tinymyo_edge.quant.report import float_activations
from tinymyo_edge.quant import calibrate as cal
ck = sys.argv[1]
test = np.load(ck + "/test.npz")
model = load_checkpoint(ck + "/model.safetensors", samples=test["x"].shape[-1], heads=2).eval()
acts = float_activations(model, test["x"][:16].astype(np.float32))
cal.ONE_SIDED_RATIO = 1e9  # force the asymmetric grid for every tensor
for name, v in acts.items():
    if name in ("input", "patches"):
        continue
    v = np.asarray(v, np.float64)
    s = cal.activation_scale(v, "mse"); e_sym = cal.quant_error(v, s)
    sa, za = cal.activation_range(v, "mse"); e_asym = cal.quant_error_asym(v, sa, za)
    gain = 10 * np.log10(e_sym / e_asym)
    print(f"{name:<34} -min/max {-v.min() / v.max():6.3f}  zp {za:3d}  asym gain {gain:5.2f} dB")
