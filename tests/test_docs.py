"""Every Python block of README.md and docs/*.md that is meant to run is run here, on tiny
generated data, so that a renamed parameter fails a test instead of a user. A block opts out
with an HTML comment on the line before it: ``<!-- not run: the reason -->``. MMDetection
config fragments are executed, then their sampler is built on a tiny dataset."""

import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch

from mmdet_balanced import labels_from_coco
from mmdet_balanced.study.demo_data import make_fetal_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BLOCK = re.compile(r"(?:^|\n)([^\n]*)\n```python\n(.*?)```", re.S)


def blocks():
    found = []
    for path in [osp.join(ROOT, "README.md")] + sorted(glob.glob(osp.join(ROOT, "docs", "*.md"))):
        text = open(path).read()
        for number, match in enumerate(BLOCK.finditer(text)):
            before, code = match.group(1), match.group(2)
            skip = re.match(r"\s*<!-- not run: (.+?) -->", before)
            found.append(
                pytest.param(
                    code,
                    id=f"{osp.basename(path)}#{number}",
                    marks=([pytest.mark.skip(reason=skip.group(1))] if skip else []),
                )
            )
    return found


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    make_fetal_dataset(str(root), num_train=24, num_val=20, image_size=64, seed=9)
    return root


def prelude(root):
    """The names the blocks take as the reader's own: a dataset of the json's images, a tiny
    detector with its Trainer arguments, epochs, ..."""
    from transformers import Trainer, TrainingArguments

    from tests.test_transformers import CocoBoxes, collate, tiny_detr

    labels, _ = labels_from_coco(str(root / "train.json"))
    hf_dataset = CocoBoxes(str(root))
    dataset = torch.utils.data.TensorDataset(torch.arange(labels.shape[0]))
    args = TrainingArguments(
        output_dir=str(root / "hf"),
        max_steps=1,
        report_to=[],
        use_cpu=True,
        remove_unused_columns=False,
        per_device_train_batch_size=4,
    )
    return dict(
        dataset=dataset,
        train_dataset=hf_dataset,
        epochs=1,
        labels=labels.toarray(),
        my_matrix=labels,
        model=tiny_detr(len(hf_dataset.data["categories"])),
        args=args,
        training_args=args,
        collate=collate,
        collate_fn=collate,
        MyBase=Trainer,
        batches_done_this_epoch=0,
        checkpoint={},
        DataLoader=torch.utils.data.DataLoader,
    )


def build_config_sampler(namespace, root):
    """An MMDetection config fragment: its sampler built on a tiny dataset, as the Runner
    would (unknown or renamed arguments fail here)."""
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATA_SAMPLERS

    from mmdet_balanced.study.demo_data import FETAL_CLASSES

    sampler = dict(namespace["train_dataloader"]["sampler"])
    sampler.pop("_delete_", None)
    dataset = CocoDataset(
        data_root=str(root) + "/",
        ann_file="train.json",
        data_prefix=dict(img="images/"),
        metainfo=dict(classes=FETAL_CLASSES),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )
    built = DATA_SAMPLERS.build(dict(sampler, dataset=dataset))
    assert len(list(built)) > 0


@pytest.mark.parametrize("code", blocks())
def test_documented_python_runs(code, workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    namespace = prelude(workspace)
    exec(compile(code, "<doc block>", "exec"), namespace)
    if (
        isinstance(namespace.get("train_dataloader"), dict)
        and "sampler" in namespace["train_dataloader"]
    ):
        build_config_sampler(namespace, workspace)
    assert np.all(np.isfinite(namespace.get("p", np.zeros(1))))


def test_every_route_has_a_block_that_runs():
    ids = [p.id for p in blocks() if not p.marks]
    for page in ("README.md", "mmdetection.md", "pytorch.md", "method.md"):
        assert any(i.startswith(page) for i in ids), page


def test_layout_table_names_files_that_exist():
    """Each ``name.py`` a row of the README's layout table names exists in that row's folder,
    and each module of the package is named in its folder's row: the table stays true."""
    text = open(osp.join(ROOT, "README.md")).read()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w/]+/)` \| (.*) \|$", table, re.M)
    assert rows, "the README has no layout table"
    for folder, description in rows:
        named = set(re.findall(r"`(\w+\.py)`", description))
        present = {osp.basename(p) for p in glob.glob(osp.join(ROOT, folder, "*.py"))}
        assert named <= present, f"{folder}: the README names missing {sorted(named - present)}"
        if folder.startswith("mmdet_balanced/"):
            unnamed = present - named - {"__init__.py"}
            assert not unnamed, f"{folder}: not in the README's layout table: {sorted(unnamed)}"
