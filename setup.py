from setuptools import find_packages, setup

setup(
    name="mmdet_balanced",
    version="0.1.0",
    description="Balanced QP sampling (Olivier & Raynaud) for MMDetection 3.x",
    packages=find_packages(include=["mmdet_balanced", "mmdet_balanced.*"]),
    python_requires=">=3.8",
    install_requires=["numpy", "scipy>=1.9", "cvxopt>=1.3", "clarabel", "threadpoolctl", "torch"],
    extras_require={
        "mmdet": ["mmengine>=0.10", "mmcv>=2.0.0rc4,<2.2.0", "mmdet>=3.0,<3.4"],
        "tests": ["pytest", "hypothesis"],
    },
)
