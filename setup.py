from setuptools import find_packages, setup

setup(
    name="mmdet_balanced",
    version="0.3.0",
    description="Balanced QP sampling (Olivier & Raynaud) for MMDetection 3.x, Detectron2 and Ultralytics YOLO",
    packages=find_packages(include=["mmdet_balanced", "mmdet_balanced.*"]),
    python_requires=">=3.8",
    install_requires=[
        "numpy",
        "scipy>=1.9",
        "cvxopt>=1.3",
        "clarabel",
        "highspy>=1.16",
        "threadpoolctl",
        "torch",
    ],
    entry_points={"console_scripts": ["mmdet-balanced=mmdet_balanced.cli:main"]},
    extras_require={
        "mmdet": ["mmengine>=0.10", "mmcv>=2.0.0rc4,<2.2.0", "mmdet>=3.0,<3.4"],
        # Detectron2 publishes no wheels: install it from its repository (see README).
        "detectron2": [
            "torchvision",
            "fvcore>=0.1.5,<0.1.6",
            "iopath>=0.1.7,<0.1.10",
            "omegaconf>=2.1,<2.4",
            "hydra-core>=1.1",
            "setuptools<81",
        ],
        "ultralytics": ["ultralytics>=8.3"],  # AGPL-3.0
        "transformers": ["transformers>=4.46", "accelerate>=0.26"],
        "lightning": ["lightning>=2.0"],
        "tests": ["pytest", "hypothesis"],
    },
)
