#!/usr/bin/env python
"""Detectron2's ``tools/train_net.py`` with the balanced sampler.

The same arguments (``--config-file``, ``--num-gpus``, ``--num-machines``, ``--resume``,
``--eval-only``, ``opts``); the config is read after ``add_balanced_config``, so a config or
``opts`` can set ``DATALOADER.SAMPLER_TRAIN BalancedQPSampler`` and ``DATALOADER.BALANCED.*``::

    python tools/train_detectron2.py --config-file configs/detectron2/faster_rcnn_R_18_FPN_balanced.yaml \\
        --num-gpus 2 DATASETS.TRAIN "('my_train',)" DATALOADER.BALANCED.LAM_SCALE 0.404

Register your datasets before training (e.g. ``register_coco_instances`` in a module imported
with ``--register MODULE``, or a builtin name such as ``coco_2017_train``).
"""

import logging
import os
import sys

import detectron2.utils.comm as comm
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.data import MetadataCatalog
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.evaluation import (
    COCOEvaluator,
    DatasetEvaluators,
    LVISEvaluator,
    PascalVOCDetectionEvaluator,
    verify_results,
)

from mmdet_balanced.detectron2 import BalancedTrainer, add_balanced_config
from mmdet_balanced.detectron2.datasets import import_registration, register_fetal_demo


class Trainer(BalancedTrainer):
    """``BalancedTrainer`` with train_net.py's evaluators for detection datasets."""

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference")
        evaluator_type = MetadataCatalog.get(dataset_name).get("evaluator_type", "coco")
        if evaluator_type == "pascal_voc":
            return PascalVOCDetectionEvaluator(dataset_name)
        if evaluator_type == "lvis":
            return LVISEvaluator(dataset_name, output_dir=output_folder)
        return DatasetEvaluators([COCOEvaluator(dataset_name, output_dir=output_folder)])


def setup(args):
    for module in args.register or []:  # registers the user's datasets in every process
        import_registration(module)
    register_fetal_demo()  # fetal_demo_train / _val, when tools/make_demo_data.py has run
    cfg = add_balanced_config(get_cfg())
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        res = Trainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, res)
        return res
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def parser():
    result = default_argument_parser()
    result.add_argument(
        "--register",
        action="append",
        metavar="MODULE_OR_FILE",
        help="import a module (from the current directory) or a .py file "
        "first (it registers datasets in DatasetCatalog); "
        "repeatable",
    )
    return result


if __name__ == "__main__":
    args = parser().parse_args()
    logging.getLogger("detectron2").info("Command line arguments: %s", args)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
    sys.exit(0)
