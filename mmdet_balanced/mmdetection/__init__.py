"""MMDetection 3.x glue: the presence matrix of MMDetection datasets (:mod:`.labels`, no MMDetection
import) and the registered components (:mod:`.samplers`, :mod:`.metrics`, :mod:`.mix_dataset`, :mod:`.images_seen`),
loaded by :func:`register_all_modules` when ``mmdet_balanced`` is imported with MMDetection
installed."""


def register_all_modules() -> dict:
    """Import (and so register in MMDetection's registries) the plugin's components; allow-list
    MMEngine's checkpoint objects for torch's ``weights_only`` loader. Returns them by name."""
    from .compat import allow_mmengine_checkpoints
    from .images_seen import ImagesSeenHook
    from .metrics import ClassAPMetric
    from .mix_dataset import BalancedMultiImageMixDataset
    from .repeat_dataset import InstanceBalancedDataset
    from .samplers import BalancedQPSampler, InfiniteBalancedQPSampler, OversamplingSampler

    allow_mmengine_checkpoints()
    return dict(
        BalancedQPSampler=BalancedQPSampler,
        InfiniteBalancedQPSampler=InfiniteBalancedQPSampler,
        OversamplingSampler=OversamplingSampler,
        ClassAPMetric=ClassAPMetric,
        BalancedMultiImageMixDataset=BalancedMultiImageMixDataset,
        ImagesSeenHook=ImagesSeenHook,
        InstanceBalancedDataset=InstanceBalancedDataset,
    )
