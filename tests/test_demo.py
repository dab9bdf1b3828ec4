"""`make demo` keeps working: the whole pipeline on the built-in default, ending validated (Errors: 0)."""

from tinymyo_edge.demo import run_demo


def test_demo_pipeline_ends_with_a_validated_build_and_an_app(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run_demo(out, epochs=1) == 0
    printed = capsys.readouterr().out
    assert "Errors: 0 out of" in printed and "platform=host (exit 0)" in printed
    assert "ESTIMATE" in printed  # the profile labels its cycles as estimated
    for name in ("model.onnx", "model.int8.onnx", "gap9_app/Makefile", "gap9_app/main.c", "profile.json"):
        assert (out / name).is_file(), name
