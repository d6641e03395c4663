"""tools/demo.sh end to end on tiny settings: every stage runs and the promised files exist."""

import os
import os.path as osp
import subprocess

from mmdet_balanced.study.demo_data import FETAL_CLASSES

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_demo_stages_write_what_they_promise(tmp_path):
    env = dict(
        os.environ,
        DEMO_EPOCHS="1",
        DEMO_DATA=str(tmp_path / "data"),
        DEMO_WORK_DIR=str(tmp_path / "work"),
        DEMO_NUM_TRAIN="40",
        DEMO_IMAGE_SIZE="64",
    )
    result = subprocess.run(
        ["bash", osp.join(ROOT, "tools", "demo.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for stage in range(1, 6):
        assert f"[{stage}/5]" in out
    assert out.count("done in") >= 4 and "[demo] total" in out
    work = tmp_path / "work"
    for name in ("class_draws.png", "summary.csv", "analysis.log"):
        assert (work / "analysis" / name).stat().st_size > 0
    summary = out[out.index("[5/5] result") :]
    for name in FETAL_CLASSES:  # every class in the final table
        assert f"      {name} " in summary
    for promised in ("class_draws.png", "sampling.json", ".log", "next:"):
        assert promised in summary
    paths = [line.split()[-1] for line in summary.splitlines() if line.strip().startswith("log")]
    assert paths and osp.isfile(paths[0])
