"""torchvision's Faster R-CNN (MobileNetV3-Large FPN, from scratch) trained in a plain PyTorch
loop on a COCO json, with images drawn by ``BalancedSampler.from_coco``.

    python examples/torchvision_detection.py --coco train.json --images images/ \
        [--iterations 100] [--batch-size 4] [--image-size 320] [--lam-scale 0.404] \
        [--count images|instances] [--out-dir work_dirs/torchvision]

``torchvision.datasets.CocoDetection`` indexes images by ascending id, so the sampler is built
with ``order="id"``. Each epoch is the draw of ``seed + epoch``; the loop saves the model, the
optimizer and ``sampler.state_dict()`` at the end, and ``--resume`` continues exactly there.
"""

import argparse
import math
import os
import os.path as osp

import torch
from torch.utils.data import DataLoader
from torchvision.datasets import CocoDetection
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
from torchvision.transforms import functional as F

from mmdet_balanced import BalancedSampler, coco_class_names


class CocoForDetection(CocoDetection):
    """CocoDetection returning (image tensor, target dict) as torchvision's detectors take them:
    boxes in x1y1x2y2, labels = the category's position in ``categories`` + 1 (0 is the
    background), crowd boxes dropped (the sampler does not count them either)."""

    def __init__(self, images, coco, image_size):
        super().__init__(images, coco)
        self.label_of = {c["id"]: k + 1 for k, c in enumerate(self.coco.dataset["categories"])}
        self.image_size = image_size

    def __getitem__(self, index):
        image, annotations = super().__getitem__(index)
        scale = self.image_size / max(image.size)
        image = F.resize(
            F.to_tensor(image), [round(image.height * scale), round(image.width * scale)]
        )
        kept = [a for a in annotations if not a.get("iscrowd", 0)]
        boxes = (
            torch.tensor(
                [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in kept)],
                dtype=torch.float32,
            ).reshape(-1, 4)
            * scale
        )
        labels = torch.tensor([self.label_of[a["category_id"]] for a in kept], dtype=torch.int64)
        return image, dict(boxes=boxes, labels=labels, image_id=self.ids[index])


def collate(batch):
    return tuple(zip(*batch))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--coco", required=True, help="COCO json of the training set")
    parser.add_argument("--images", required=True, help="folder of its images")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--lam-scale", type=float, default=0.404)
    parser.add_argument("--count", choices=["images", "instances"], default="images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default="work_dirs/torchvision")
    parser.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pth")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    dataset = CocoForDetection(args.images, args.coco, args.image_size)
    sampler = BalancedSampler.from_coco(
        args.coco,
        order="id",
        lam_scale=args.lam_scale,
        count=args.count,
        seed=args.seed,
        output_dir=args.out_dir,
    )
    loader = DataLoader(
        dataset, batch_size=args.batch_size, sampler=sampler, collate_fn=collate, drop_last=True
    )
    model = fasterrcnn_mobilenet_v3_large_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=len(coco_class_names(args.coco)) + 1,
        min_size=args.image_size,
        max_size=args.image_size,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    done, fed = 0, []
    checkpoint = osp.join(args.out_dir, "last.pth")
    if args.resume:
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        done = state["iterations"]
    per_epoch = len(sampler.probabilities) // args.batch_size
    model.train()
    while done < args.iterations:
        epoch, offset = divmod(done, per_epoch)
        if offset == 0:
            sampler.set_epoch(epoch)  # a resumed epoch continues from the sampler's state
        for images, targets in loader:
            losses = model(
                list(images), [{k: v for k, v in t.items() if k != "image_id"} for t in targets]
            )
            loss = sum(losses.values())
            if not math.isfinite(loss.item()):
                raise RuntimeError(f"loss is {loss.item()} at iteration {done}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            fed.append([t["image_id"] for t in targets])
            done += 1
            print(
                f"iteration {done}/{args.iterations} (epoch {epoch}) loss {loss.item():.3f}",
                flush=True,
            )
            if done == args.iterations:
                break
    torch.save(
        dict(
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            sampler=sampler.state_dict(position=(done % per_epoch) * args.batch_size),
            iterations=done,
        ),
        checkpoint,
    )
    print(f"saved {checkpoint}; images fed (ids per batch): {fed}")
    return fed


if __name__ == "__main__":
    main()
