"""``mmdet-balanced``: the package's command line (installed with the package, no clone needed).

    mmdet-balanced analyze CONFIG|COCO_JSON|DATA_YAML --out-dir DIR [...]   what a sampler does
    mmdet-balanced compare --group A=DIR --group B=DIR [...]                compare run groups
    mmdet-balanced race CONFIG --arms ... --runs N --images-seen M [...]    the race
    mmdet-balanced train-repeats CONFIG --runs N --work-dir DIR [...]       seeded runs
    mmdet-balanced yolo-race --data DATA_YAML --runs N --epochs E [...]     the race on YOLO

Each command is the module's ``main`` (``tools/*.py`` in a clone are the same commands).
"""

import importlib
import sys

COMMANDS = {
    "analyze": "mmdet_balanced.study.analyze",
    "compare": "mmdet_balanced.study.compare_tool",
    "race": "mmdet_balanced.study.race",
    "train-repeats": "mmdet_balanced.study.repeats",
    "yolo-race": "mmdet_balanced.study.yolo_race",
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] not in COMMANDS:
        print(
            f"mmdet-balanced: unknown command {argv[0]!r}; commands: "
            f"{', '.join(COMMANDS)} (mmdet-balanced --help)",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    sys.argv = [f"mmdet-balanced {argv[0]}", *argv[1:]]  # argparse's usage line
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
