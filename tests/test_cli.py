import json
import subprocess
import sys

import pytest

from cli.main import cli, main


def run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.mark.parametrize("cmd", [[], ["synth"], ["inspect"], ["scenes"], ["geometry"], ["fit"], ["render"], ["export"], ["report"], ["demo"]])
def test_help_is_available(cmd, capsys):
    code, out, _ = run(cmd + ["--help"], capsys)
    assert code == 0 and "Usage: relight" in out
    assert len(out.splitlines()) >= 4


def test_every_command_documents_itself():
    for name, cmd in cli.commands.items():
        assert cmd.help and len(cmd.help) > 20, name


def test_existing_output_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(["synth", "spot", "-o", str(out), "--res", "16", "--views", "1"], capsys)
    assert code == 2 and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"


def test_synth_then_inspect_end_to_end(tmp_path):
    """The installed console script: synth a tiny capture, then inspect it."""
    exe = [sys.executable, "-m", "cli.main"]
    out = tmp_path / "cap"
    r = subprocess.run(exe + ["synth", "knot", "-o", str(out), "--res", "16", "--views", "2",
                              "--test-views", "1", "--spp", "4", "-q", "--device", "cpu"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "transforms_test.json").read_text())
    assert len(meta["frames"]) == 1 and set(meta["relight"]["relit"]) >= {"courtyard", "studio"}
    r = subprocess.run(exe + ["inspect", str(out), "--split", "test"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "views: 1  resolution: 16x16" in r.stdout and "relit sets" in r.stdout


def test_material_and_eval_commands(tiny_capture, tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("iterations = 3\nspp = 2\ntex_res = 16\nenv_width = 16\nlevels = 1\ncheckpoint_every = 2\n")
    out = tmp_path / "asset"
    code, stdout, err = run(["material", str(tiny_capture), "--mesh", str(tiny_capture / "gt/mesh.obj"),
                             "-o", str(out), "--config", str(cfg), "-q", "--device", "cpu"], capsys)
    assert code == 0, err
    for f in ("asset.json", "mesh.obj", "albedo.png", "albedo.exr", "roughness.png", "envmap.exr",
              "loss.png", "metrics.json", "metrics.md"):
        assert (out / f).is_file(), f
    manifest = json.loads((out / "asset.json").read_text())
    assert manifest["info"]["config"]["iterations"] == 3 and "albedo_psnr" in manifest["info"]["metrics"]
    assert not (tmp_path / ".asset.ckpt").exists()  # checkpoints are removed after success
    code, stdout, _ = run(["eval", str(out), str(tiny_capture), "--spp", "4", "-q", "-o", str(tmp_path / "m")],
                          capsys)
    assert code == 0 and "albedo PSNR" in stdout and (tmp_path / "m.json").is_file()


def test_material_bad_inputs(tiny_capture, tmp_path, capsys):
    code, _, err = run(["material", str(tiny_capture), "--mesh", str(tmp_path / "none.obj"),
                        "-o", str(tmp_path / "a")], capsys)
    assert code == 2 and "mesh file not found" in err
    code, _, err = run(["material", str(tiny_capture), "--mesh", str(tiny_capture / "gt/mesh.obj"),
                        "-o", str(tmp_path / "a"), "--resume"], capsys)
    assert code == 2 and "no checkpoint" in err and not (tmp_path / "a").exists()


def test_geometry_and_fit_commands(tiny_capture, tmp_path, capsys):
    """2-step smoke runs of `relight geometry` and of the whole `relight fit` pipeline."""
    g = tmp_path / "g.toml"
    g.write_text("iterations = 2\nhull_res = 32\nlevels = 1\nlevel_split = [1.0]\nimage_res = 32\n"
                 "batch_views = 2\n")
    out = tmp_path / "geo"
    code, stdout, err = run(["geometry", str(tiny_capture), "-o", str(out), "--config", str(g), "-q",
                             "--device", "cpu"], capsys)
    assert code == 0, err
    info = json.loads((out / "geometry.json").read_text())
    assert info["watertight"] and info["faces"] > 100 and (out / "mesh.obj").is_file()
    assert {"mask_iou", "novel_view_psnr", "normal_mae", "chamfer"} <= set(info["metrics"])
    assert info["metrics"]["mask_iou"] > 0.8 and info["metrics"]["chamfer"] < 0.05  # visual hull from 6 views
    m = tmp_path / "m.toml"
    m.write_text("iterations = 2\nspp = 2\ntex_res = 16\nenv_width = 16\nlevels = 1\n")
    asset = tmp_path / "asset"
    code, stdout, err = run(["fit", str(tiny_capture), "-o", str(asset), "--geometry-config", str(g),
                             "--material-config", str(m), "-q", "--device", "cpu"], capsys)
    assert code == 0, err
    manifest = json.loads((asset / "asset.json").read_text())
    assert manifest["info"]["geometry"]["metrics"]["chamfer"] < 0.05
    assert manifest["info"]["metrics"]["normal_mae"] is not None
    assert (asset / "albedo.png").is_file() and not (tmp_path / ".asset.ckpt").exists()
    code, _, err = run(["geometry", str(tiny_capture), "-o", str(out), "-q"], capsys)
    assert code == 2 and "exists" in err  # refuses to overwrite without --overwrite


def test_render_and_export_commands(tiny_capture, tmp_path, capsys):
    code, out, err = run(["export", str(tiny_capture / "gt"), "-o", str(tmp_path / "s.glb")], capsys)
    assert code == 0 and "s.glb" in out and (tmp_path / "s_envmap.exr").is_file()
    code, out, err = run(["export", str(tiny_capture / "gt"), "--format", "obj", "-o", str(tmp_path / "o")], capsys)
    assert code == 0 and (tmp_path / "o.mtl").is_file()
    code, _, err = run(["export", str(tiny_capture / "gt"), "-o", str(tmp_path / "s.glb")], capsys)
    assert code == 2 and "exists" in err
    code, out, err = run(["render", str(tiny_capture / "gt"), "-o", str(tmp_path / "r"), "--orbit", "2", "--res", "16",
                          "--spp", "4", "--envmap", str(tiny_capture / "gt/envmaps/forest.exr"), "--rotate", "90",
                          "-q", "--device", "cpu"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "render.json", "view_000.exr", "view_000.png", "view_001.exr", "view_001.png"]
    code, _, err = run(["render", str(tiny_capture / "gt"), "-o", str(tmp_path / "r2"), "--envmap",
                        str(tmp_path / "missing.exr"), "-q"], capsys)
    assert code == 2 and "missing.exr" in err and not (tmp_path / "r2").exists()


def test_demo_quick_runs_every_stage_and_the_report_is_self_contained(tmp_path, capsys):
    """`relight demo --quick`: synth -> fit -> render -> export -> report, all outputs present,
    and every image the HTML page references exists in the report folder."""
    import re

    out = tmp_path / "demo"
    code, stdout, err = run(["demo", "--quick", "-o", str(out), "-q", "--device", "cpu"], capsys)
    assert code == 0, err
    for rel in ("capture/transforms_train.json", "asset/asset.json", "asset/metrics.json", "relit/view_000.png",
                "export/glb/spot.glb", "export/obj/spot.mtl", "report/index.html"):
        assert (out / rel).is_file(), rel
    page = (out / "report/index.html").read_text()
    srcs = re.findall(r'src="([^"]+)"', page)
    assert len(srcs) >= 8 and all((out / "report" / s).is_file() for s in srcs)
    assert "Ground truth | ours | error" in page and "Albedo accuracy, PSNR" in page and "error_scale.png" in page
    from relight.export.viewer import three_dir

    if three_dir() is not None:  # the interactive viewer and everything it loads sit beside the page
        cfg = json.loads((out / "report/viewer.json").read_text())
        assert all((out / "report" / e["file"]).is_file() for e in cfg["envmaps"]) and (out / "report" / cfg["glb"]).is_file()
        assert (out / "report/three/build/three.module.js").is_file() and 'src="viewer.js"' in page
    info = json.loads((out / "asset/asset.json").read_text())["info"]
    assert info["capture"] == str(out / "capture")  # provenance names the final folder, not the temp one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no temp folder left
