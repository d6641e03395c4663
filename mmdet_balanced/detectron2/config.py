"""Selecting the balanced sampler from a yacs config, as Detectron2's own samplers are selected.

``add_balanced_config(cfg)`` adds ``cfg.DATALOADER.BALANCED`` (the QP and draw settings);
``cfg.DATALOADER.SAMPLER_TRAIN = "BalancedQPSampler"`` then selects the balanced sampler in
:func:`build_balanced_train_loader` (and so in ``BalancedTrainer``). Any other
``SAMPLER_TRAIN`` is left to Detectron2's ``build_detection_train_loader``.
"""

from detectron2.config import CfgNode as CN
from detectron2.data import (
    MetadataCatalog,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)

from .repeat_factors import IRFS_SAMPLER_NAME, repeat_factors_from_instance_frequency
from .sampler import BalancedTrainingSampler

SAMPLER_NAME = "BalancedQPSampler"


def add_balanced_config(cfg):
    """Add ``cfg.DATALOADER.BALANCED`` with the balanced sampler's defaults (the paper's QP,
    systematic draws); call it before ``merge_from_file``. Returns ``cfg``."""
    cfg.DATALOADER.BALANCED = CN()
    balanced = cfg.DATALOADER.BALANCED
    balanced.ALPHA_FACTOR = 0.5  # p_i >= ALPHA_FACTOR / N
    balanced.LAM = None  # weight of lam/2 ||p||^2 (the paper's: 500 at N = 1237)
    balanced.LAM_SCALE = None  # or lam = LAM_SCALE * N; both None: 0.404 N, the paper's scale
    balanced.OBJECTIVE = "paper"  # or "maxmin": lift the rarest class first
    balanced.COUNT = "images"  # or "instances": balance box counts, not image presence
    balanced.BACKGROUND_SHARE = None  # None, a probability, or "uniform"
    balanced.MAXMIN_EPS = 1e-3
    balanced.SOLVER = "auto"
    balanced.DRAW = "systematic"  # or "iid" (with replacement, as in the paper)
    balanced.NUM_SAMPLES = None  # draws per chunk of the stream (default: dataset size)
    return cfg


def num_classes_from_config(cfg) -> int:
    """The model's number of classes (RetinaNet's head or the ROI heads)."""
    if cfg.MODEL.META_ARCHITECTURE == "RetinaNet":
        return cfg.MODEL.RETINANET.NUM_CLASSES
    return cfg.MODEL.ROI_HEADS.NUM_CLASSES


def thing_classes(dataset_names, num_classes: int):
    """The first dataset's ``thing_classes`` from ``MetadataCatalog`` if it names
    ``num_classes`` classes, else None."""
    if not dataset_names:
        return None
    names = MetadataCatalog.get(dataset_names[0]).get("thing_classes", None)
    return list(names) if names is not None and len(names) == num_classes else None


def train_dataset_dicts(cfg) -> list:
    """The training dataset dicts, as ``build_detection_train_loader`` builds them from ``cfg``
    (``_train_loader_from_config``)."""
    return get_detection_dataset_dicts(
        cfg.DATASETS.TRAIN,
        filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
        min_keypoints=(
            cfg.MODEL.ROI_KEYPOINT_HEAD.MIN_KEYPOINTS_PER_IMAGE if cfg.MODEL.KEYPOINT_ON else 0
        ),
        proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None,
    )


def balanced_settings_from_config(cfg) -> dict:
    """The QP and draw arguments of ``BalancedTrainingSampler`` that ``cfg.DATALOADER.BALANCED``
    holds."""
    if "BALANCED" not in cfg.DATALOADER:
        raise KeyError(
            f'cfg.DATALOADER.SAMPLER_TRAIN = "{SAMPLER_NAME}" needs the balanced settings: call '
            "mmdet_balanced.detectron2.add_balanced_config(cfg) after get_cfg() and before "
            "merge_from_file (tools/train_detectron2.py does)"
        )
    balanced = cfg.DATALOADER.BALANCED
    return dict(
        alpha_factor=balanced.ALPHA_FACTOR,
        lam=balanced.LAM,
        lam_scale=balanced.LAM_SCALE,
        objective=balanced.OBJECTIVE,
        background_share=balanced.BACKGROUND_SHARE,
        maxmin_eps=balanced.MAXMIN_EPS,
        solver=balanced.SOLVER,
        draw=balanced.DRAW,
        num_samples=balanced.NUM_SAMPLES,
        count=balanced.get("COUNT", "images"),
    )


def balanced_sampler_from_config(cfg, dataset_dicts) -> BalancedTrainingSampler:
    """The ``BalancedTrainingSampler`` that ``cfg.DATALOADER.BALANCED`` describes."""
    settings = balanced_settings_from_config(cfg)
    num_classes = num_classes_from_config(cfg)
    return BalancedTrainingSampler(
        dataset_dicts,
        num_classes=num_classes,
        seed=cfg.SEED if cfg.SEED >= 0 else None,
        class_names=thing_classes(cfg.DATASETS.TRAIN, num_classes),
        output_dir=cfg.OUTPUT_DIR,
        **settings,
    )


def build_balanced_train_loader(cfg, mapper=None):
    """``build_detection_train_loader(cfg, mapper)`` that also honours
    ``SAMPLER_TRAIN = "BalancedQPSampler"`` and ``"InstanceRepeatFactorTrainingSampler"``
    (IRFS at ``DATALOADER.REPEAT_THRESHOLD``). The balanced sampler is kept on the loader as
    ``loader.balanced_sampler`` (``BalancedTrainer`` moves its stream on resume)."""
    if cfg.DATALOADER.SAMPLER_TRAIN == IRFS_SAMPLER_NAME:
        from detectron2.data.samplers import RepeatFactorTrainingSampler

        dataset = train_dataset_dicts(cfg)
        factors = repeat_factors_from_instance_frequency(
            dataset, cfg.DATALOADER.REPEAT_THRESHOLD, num_classes_from_config(cfg)
        )
        sampler = RepeatFactorTrainingSampler(factors, seed=cfg.SEED if cfg.SEED >= 0 else None)
        return build_detection_train_loader(cfg, mapper=mapper, dataset=dataset, sampler=sampler)
    if cfg.DATALOADER.SAMPLER_TRAIN != SAMPLER_NAME:
        return build_detection_train_loader(cfg, mapper=mapper)
    dataset = train_dataset_dicts(cfg)
    sampler = balanced_sampler_from_config(cfg, dataset)
    loader = build_detection_train_loader(cfg, mapper=mapper, dataset=dataset, sampler=sampler)
    loader.balanced_sampler = sampler
    return loader
