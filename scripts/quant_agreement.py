"""Quantisation accuracy of one trained 3DC participant (helper linq, issue 14): checkpoint -> float ONNX -> int8
ONNX (quantize_model defaults) -> per-layer QSNR/cosine (quant.report.layer_table on 16 test windows) and
int8-vs-float top-1 agreement on the whole test session (onnxruntime, 1 thread).
usage: PYTHONPATH=$PWD python scripts/quant_agreement.py CKPT_DIR OUT_JSON [max_test]
CKPT_DIR holds model.safetensors, train.npz, test.npz (e.g. /work/ckpt/acc100/p01); OUT_JSON.with_suffix("") gets
the float and int8 ONNX."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from tinymyo_edge.model.checkpoint import load_checkpoint
from tinymyo_edge.export import export_onnx
from tinymyo_edge.quant import quantize_model
from tinymyo_edge.quant.report import layer_table, output_agreement
from tinymyo_edge.quant.runtime import session

ck, out = Path(sys.argv[1]), Path(sys.argv[2])
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
train, test = np.load(ck / "train.npz"), np.load(ck / "test.npz")
model = load_checkpoint(ck / "model.safetensors", samples=train["x"].shape[-1], heads=2).eval()
work = out.with_suffix("")
work.mkdir(parents=True, exist_ok=True)
f_onnx, q_onnx = work / "model.onnx", work / "model.int8.onnx"
export_onnx(model, f_onnx, parity_inputs=test["x"][:2], force=True)
t0 = time.time()
program = quantize_model(f_onnx, train["x"], q_onnx, force=True, progress=False)
tq = time.time() - t0
x = test["x"] if limit is None else test["x"][np.linspace(0, len(test["x"]) - 1, limit).round().astype(int)]
with torch.no_grad():
    fl = model(torch.from_numpy(x.astype(np.float32))).numpy()
sess = session(q_onnx, threads=1)
name = sess.get_inputs()[0].name
q = np.concatenate([sess.run(None, {name: w[None].astype(np.float32)})[0] for w in x])
rows = layer_table(program, model, test["x"][:16].astype(np.float32))
res = {"windows": len(x), "top1_agreement": float((fl.argmax(1) == q.argmax(1)).mean()),
       "float_acc": float((fl.argmax(1) == test["y"][:len(fl)]).mean()) if limit is None else None,
       "int8_acc": float((q.argmax(1) == test["y"]).mean()) if limit is None else None,
       "quantize_s": tq, "layers": rows,
       "output16": output_agreement(program, model, test["x"][:16].astype(np.float32))}
out.write_text(json.dumps(res, indent=1))
print({k: v for k, v in res.items() if k != "layers"})
for r in rows:
    print(f"{r['tensor']:<32} {r['op']:<16} {r['qsnr_db']:7.2f} {r['cosine']:.5f}")
