"""Train N runs of one config with distinct seeds, evaluating each on the test split.

    python tools/train_repeats.py CONFIG --runs N --work-dir DIR [--seed-base 0]
        [--cfg-options k=v ...] [--jobs K [--gpus 0,1,...]] [--launcher pytorch --nproc N]

The logic lives in :mod:`mmdet_balanced.study.repeats` (its docstring says what each option does).
"""

import sys

from mmdet_balanced.study.repeats import main

if __name__ == "__main__":
    sys.exit(main())
