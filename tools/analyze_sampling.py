"""See what balanced sampling does to a training set, before spending GPU time.

    python tools/analyze_sampling.py CONFIG|COCO_JSON|DATA_YAML --out-dir DIR [options]

The same as ``mmdet-balanced analyze``; the logic and the options are in
:mod:`mmdet_balanced.study.analyze`.
"""

import sys

from mmdet_balanced.study.analyze import *  # noqa: F401,F403  (the tool's functions, as before)
from mmdet_balanced.study.analyze import main

if __name__ == "__main__":
    sys.exit(main())
