"""Which sampler should I use? Train every arm on the same number of images seen and compare.

    python tools/race.py CONFIG --arms uniform,oversampling,rfs,classaware,balanced,recommended,maxmin \
        --runs N --images-seen M [--jobs K] [--work-dir DIR] [--cfg-options k=v ...]

The logic lives in :mod:`mmdet_balanced.study.race` (its docstring says what each arm is).
"""

import sys

from mmdet_balanced.study.race import main

if __name__ == "__main__":
    sys.exit(main())
