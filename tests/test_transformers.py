"""Hugging Face transformers: a tiny randomly initialised DETR (no hub download) fine-tuned by
BalancedTrainer on a generated COCO set; the images fed are the sampler's stream, also across a
resume from the Trainer's checkpoint."""

import json
import os
import os.path as osp

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")  # the set-up installs it; users opt in
from transformers import (
    DetrConfig,
    DetrForObjectDetection,
    ResNetConfig,  # noqa: E402
    TrainingArguments,
)

from mmdet_balanced import BalancedSampler, labels_from_coco, solve_balanced_qp  # noqa: E402
from mmdet_balanced.study.demo_data import make_fetal_dataset  # noqa: E402
from mmdet_balanced.transformers import BalancedSamplerMixin, BalancedTrainer  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class CocoBoxes(torch.utils.data.Dataset):
    """Item i = the json's images[i]: pixels (64 px) and DETR's labels (normalised cx, cy, w, h)."""

    def __init__(self, root):
        import cv2

        self.data = json.load(open(osp.join(root, "train.json")))
        self.root, self.cv2 = root, cv2
        self.boxes = {image["id"]: [] for image in self.data["images"]}
        for a in self.data["annotations"]:
            self.boxes[a["image_id"]].append(a)

    def __len__(self):
        return len(self.data["images"])

    def __getitem__(self, index):
        image = self.data["images"][index]
        pixels = self.cv2.imread(osp.join(self.root, "images", image["file_name"]))
        height, width = pixels.shape[:2]
        pixels = self.cv2.resize(pixels, (64, 64)).astype(np.float32) / 255.0
        boxes = [
            [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
            for x, y, w, h in (a["bbox"] for a in self.boxes[image["id"]])
        ]
        return dict(
            pixel_values=torch.from_numpy(pixels).permute(2, 0, 1),
            labels=dict(
                class_labels=torch.tensor([a["category_id"] - 1 for a in self.boxes[image["id"]]]),
                boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                image_id=torch.tensor(index),
            ),
        )


def collate(items):
    return dict(
        pixel_values=torch.stack([i["pixel_values"] for i in items]),
        labels=[i["labels"] for i in items],
    )


def tiny_detr(num_labels):
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=ResNetConfig(
            embedding_size=8,
            hidden_sizes=[8, 16, 16, 16],
            depths=[1, 1, 1, 1],
            out_features=["stage4"],
        ),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=8,
        num_labels=num_labels,
    )
    torch.manual_seed(0)
    return DetrForObjectDetection(config)


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("hf_coco"))
    make_fetal_dataset(root, num_train=24, num_val=20, image_size=64, seed=6)
    return root


def train(coco_root, output_dir, max_steps, resume=None, trainer_class=BalancedTrainer):
    dataset = CocoBoxes(coco_root)
    model = tiny_detr(len(dataset.data["categories"]))
    fed = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: fed.append([int(t["image_id"]) for t in kwargs["labels"]]),
        with_kwargs=True,
    )
    args = TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        max_steps=max_steps,
        save_steps=4,
        save_strategy="steps",
        logging_steps=100,
        report_to=[],
        use_cpu=True,
        seed=7,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        learning_rate=1e-4,
    )
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collate,
        balanced_labels=osp.join(coco_root, "train.json"),
        balanced_settings=dict(lam_scale=0.404),
    )
    trainer.train(resume_from_checkpoint=resume)
    return fed, trainer


def test_balanced_trainer_feeds_the_sampler_stream_and_resumes_it(coco_root, tmp_path):
    fed, trainer = train(coco_root, tmp_path / "full", max_steps=9)  # 6 steps per epoch
    sampler = trainer.balanced_sampler
    assert isinstance(sampler, BalancedSampler) and sampler.seed == 7
    labels, _ = labels_from_coco(osp.join(coco_root, "train.json"))
    np.testing.assert_array_equal(sampler.probabilities, solve_balanced_qp(labels, lam_scale=0.404))
    stream = sampler.global_indices(0).tolist() + sampler.global_indices(1).tolist()
    assert [i for batch in fed for i in batch] == stream[:36]  # epochs 0 and 1, in order
    record = json.load(open(tmp_path / "full" / "sampling.json"))
    assert record["lam_source"] == "lam_scale" and len(record["images"]) == 24
    # resumed from checkpoint-4 (mid epoch 0): the remaining batches are the same
    resumed, _ = train(
        coco_root, tmp_path / "full", max_steps=9, resume=str(tmp_path / "full" / "checkpoint-4")
    )
    assert resumed == fed[4:]


def test_mixin_serves_a_users_own_trainer_subclass(coco_root, tmp_path):
    class MyTrainer(transformers.Trainer):
        pass

    class MyBalancedTrainer(BalancedSamplerMixin, MyTrainer):
        pass

    fed, trainer = train(coco_root, tmp_path / "mine", max_steps=2, trainer_class=MyBalancedTrainer)
    assert [i for b in fed for i in b] == trainer.balanced_sampler.global_indices(0)[:8].tolist()
    with pytest.raises(ValueError, match="needs balanced_labels"):
        BalancedTrainer(
            model=tiny_detr(3),
            args=TrainingArguments(output_dir=str(tmp_path / "x"), use_cpu=True, report_to=[]),
        )


DDP_SCRIPT = """
import json, os, sys
sys.path.insert(0, {root!r})
from transformers import TrainingArguments
from tests.test_transformers import CocoBoxes, collate, tiny_detr
from mmdet_balanced.transformers import BalancedTrainer
dataset = CocoBoxes({data!r})
model = tiny_detr(len(dataset.data["categories"]))
fed = []
model.register_forward_pre_hook(
    lambda m, a, k: fed.append([int(t["image_id"]) for t in k["labels"]]), with_kwargs=True)
args = TrainingArguments(output_dir={out!r}, per_device_train_batch_size=2, max_steps=4,
                         report_to=[], use_cpu=True, seed=7, remove_unused_columns=False,
                         dataloader_num_workers=0, save_strategy="no", logging_steps=100)
trainer = BalancedTrainer(model=model, args=args, train_dataset=dataset, data_collator=collate,
                          balanced_labels=os.path.join({data!r}, "train.json"),
                          balanced_settings=dict(lam_scale=0.404))
trainer.train()
json.dump(dict(fed=fed, stream=trainer.balanced_sampler.global_indices(0).tolist()),
          open(os.path.join({out!r}, "rank%s.json" % os.environ["RANK"]), "w"))
"""


def test_two_processes_feed_disjoint_batches_of_one_stream(coco_root, tmp_path):
    """DDP through accelerate (torchrun, 2 CPU processes, gloo): rank r is fed batches
    r, r + 2, ... of the one global stream, so together they feed it once."""
    import subprocess
    import sys

    script = tmp_path / "ddp.py"
    script.write_text(
        DDP_SCRIPT.format(
            root=osp.dirname(osp.dirname(osp.abspath(__file__))), data=coco_root, out=str(tmp_path)
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29531",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.load(open(tmp_path / f"rank{r}.json")) for r in (0, 1)]
    assert ranks[0]["stream"] == ranks[1]["stream"]  # rank 0's p, the same seed
    interleaved = [i for pair in zip(ranks[0]["fed"], ranks[1]["fed"]) for b in pair for i in b]
    assert interleaved == ranks[0]["stream"][:16]
