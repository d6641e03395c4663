"""Compare groups of training runs (mean / std / best, KS, Mann-Whitney, bootstrap CI, Cliff's
delta, Holm).

    python tools/compare_runs.py --group A=DIR --group B=DIR [--baseline A] [options]

The same as ``mmdet-balanced compare``; the logic and the options are in
:mod:`mmdet_balanced.study.compare_tool`.
"""

import sys

from mmdet_balanced.study.compare_tool import main

if __name__ == "__main__":
    sys.exit(main())
