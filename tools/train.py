"""Train a detector: MMDetection's ``tools/train.py``, with mmdet_balanced's components registered.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

The logic lives in :mod:`mmdet_balanced.mmdetection.train` (same arguments as MMDetection's).
"""

from mmdet_balanced.mmdetection.train import build_config, main, parse_args  # noqa: F401

if __name__ == "__main__":
    main()
