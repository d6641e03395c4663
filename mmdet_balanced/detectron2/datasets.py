"""Registering the project's synthetic fetal demo (``python tools/make_demo_data.py``, COCO
format) in Detectron2's catalogs, for the configs in ``configs/detectron2/``; and importing the
user's own registration module (``--register``)."""

import importlib
import importlib.util
import os
import sys

from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances

DEMO_ROOT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "fetal_demo"
)


def register_fetal_demo(root: str = DEMO_ROOT) -> list:
    """Register ``fetal_demo_train`` / ``fetal_demo_val`` from ``root`` (idempotent; a split
    whose annotation file is missing is skipped). Returns the names now registered."""
    names = []
    for split in ("train", "val"):
        name, ann_file = f"fetal_demo_{split}", os.path.join(root, f"{split}.json")
        if name not in DatasetCatalog.list() and os.path.exists(ann_file):
            register_coco_instances(name, {}, ann_file, os.path.join(root, "images"))
        if name in DatasetCatalog.list():
            names.append(name)
    return names


def import_registration(spec: str):
    """Import the user's dataset-registration code for ``--register``: a path to a ``.py`` file,
    or a module name importable from the current directory (no PYTHONPATH needed)."""
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"--register {spec}: no such file ({path}); give a path to "
                "a .py file that registers your datasets, or a module name"
            )
        name = "_registered_" + os.path.splitext(os.path.basename(path))[0]
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as error:
        if error.name != spec.split(".")[0]:
            raise  # the module exists but one of its own imports is missing
        raise ModuleNotFoundError(
            f"--register {spec}: no module {spec!r} in the current "
            f"directory ({os.getcwd()}) or on sys.path; give a path to a "
            ".py file (e.g. --register my_datasets.py) or run from its "
            "directory"
        ) from None
