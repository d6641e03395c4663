"""``YOLOBalancedSampler``: balanced draws shaped for Ultralytics' persistent train loader.

Ultralytics wraps the train sampler in a repeat wrapper whose iterator lives across epochs
(``InfiniteDataLoader``), starts the next pass before ``set_epoch`` runs, and calls
``set_epoch`` only under DDP. So the sampler is one infinite stream instead (as
``InfiniteProbabilitySampler``): each training epoch consumes exactly one systematic (or
i.i.d.) chunk of ``batches x batch x world_size`` draws, rank ``r`` taking positions
``r, r + world_size, ...``. ``len()`` is the per-rank epoch length Ultralytics divides into
batches, and ``set_epoch(e)`` moves the start of the *next* iterator to epoch ``e``'s chunk
(resume, the loader rebuilt when mosaic closes); a running iterator is never disturbed.
"""

import math

from ..core.sampler import InfiniteProbabilitySampler


class YOLOBalancedSampler(InfiniteProbabilitySampler):
    """Args: probabilities (one per image), batch_size (per rank), seed, rank, world_size,
    draw, drop_last (as the loader: whole batches only)."""

    def __init__(
        self,
        probabilities,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        draw: str = "systematic",
        drop_last: bool = False,
    ):
        per_rank = math.ceil(len(probabilities) / world_size)  # DistributedSampler's length
        batches = (
            per_rank // batch_size
            if drop_last and per_rank > batch_size
            else math.ceil(per_rank / batch_size)
        )
        super().__init__(
            probabilities,
            num_samples=batches * batch_size * world_size,
            seed=seed,
            rank=rank,
            world_size=world_size,
            draw=draw,
        )
        self.rank_length, self.batches_per_epoch = per_rank, batches
        self.batch_size = batch_size

    def __len__(self) -> int:
        return self.rank_length

    def set_epoch(self, epoch: int) -> None:
        """The next iterator starts at epoch ``epoch``'s chunk of the stream."""
        self.set_start(epoch * self.epoch_size)
