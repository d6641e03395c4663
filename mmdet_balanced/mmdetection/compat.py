"""Resume with torch >= 2.6 and MMEngine 0.10: allow what MMEngine's checkpoints hold.

torch 2.6 made ``torch.load(weights_only=True)`` the default. MMEngine 0.10.7 saves its message
hub (``HistoryBuffer`` objects, numpy arrays) in every checkpoint and loads them without
``weights_only=False``, so ``--resume`` fails with "Weights only load failed". Allow-listing
exactly those globals (found with ``torch.serialization.get_unsafe_globals_in_checkpoint``)
makes resume work without turning the safe loader off.
"""

import numpy as np
import torch


def allow_mmengine_checkpoints() -> None:
    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is None:  # torch < 2.4: no weights-only default to satisfy
        return
    from mmengine.logging.history_buffer import HistoryBuffer

    try:
        from numpy.core import multiarray
    except ImportError:  # numpy >= 2
        from numpy._core import multiarray
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes["All"]}  # Float64DType...
    add_safe_globals(
        [
            HistoryBuffer,
            np.ndarray,
            np.dtype,
            multiarray._reconstruct,
            multiarray.scalar,
            getattr,
            *dtype_classes,
        ]
    )
