"""Distributed (2 processes, gloo, real Runner), epoch- and iteration-based resume."""

import json
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from mmdet_balanced import BalancedQPSampler, InfiniteBalancedQPSampler, ProbabilitySampler
from mmdet_balanced.study.demo_data import make_fetal_dataset
from tests.test_mmdet_integration import tiny_config


@HOOKS.register_module(force=True)
class RecordDrawnImagesHook(Hook):
    """Appends the image paths of every training batch to ``work_dir/drawn_<rank>.jsonl``."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        paths = [sample.img_path for sample in data_batch["data_samples"]]
        with open(osp.join(runner.work_dir, f"drawn_{runner.rank}.jsonl"), "a") as handle:
            handle.write(json.dumps(dict(iter=runner.iter, paths=paths)) + "\n")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist_data")
    make_fetal_dataset(str(root), num_train=30, num_val=20, image_size=64, seed=4)
    return str(root)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distributed_worker(rank, world_size, port, data_root, work_dir):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    # MMEngine's init_dist("pytorch") calls torch.cuda.set_device, which a CPU-only torch
    # lacks; the Runner keeps a process group that already exists.
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    cfg = tiny_config(
        "yolov3_mobilenetv2_fetal-demo_balanced.py",
        data_root,
        work_dir,
        **{
            "train_cfg.max_epochs": 1,
            "train_dataloader.sampler.num_samples": 8,
            "train_dataloader.sampler.draw": "systematic",
            "randomness.seed": 11,
        },
    )
    cfg.launcher = "pytorch"
    cfg.model_wrapper_cfg = dict(
        type="MMDistributedDataParallel", device_ids=None, find_unused_parameters=True
    )
    runner = Runner.from_cfg(cfg)
    sampler = runner.train_dataloader.batch_sampler.sampler
    assert isinstance(sampler, BalancedQPSampler) and sampler.world_size == world_size
    runner.train()
    sampler.set_epoch(0)
    np.save(osp.join(work_dir, f"rank{rank}.npy"), sampler.probabilities)
    with open(osp.join(work_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(
            dict(
                indices=list(sampler), iter=runner.iter, seed=sampler.seed, draw=sampler.draw_method
            ),
            handle,
        )
    dist.destroy_process_group()


def test_two_process_training_draws_one_global_sequence(data_root, tmp_path):
    mp.spawn(distributed_worker, args=(2, free_port(), data_root, str(tmp_path)), nprocs=2)
    probabilities = [np.load(tmp_path / f"rank{r}.npy") for r in range(2)]
    results = [json.load(open(tmp_path / f"rank{r}.json")) for r in range(2)]
    assert probabilities[0].tobytes() == probabilities[1].tobytes()  # bit-identical
    assert results[0]["seed"] == results[1]["seed"]
    assert [r["iter"] for r in results] == [2, 2]  # 8 draws / 2 ranks / batch 2
    interleaved = [results[i % 2]["indices"][i // 2] for i in range(8)]
    assert results[0]["draw"] == "systematic"
    single = ProbabilitySampler(probabilities[0], num_samples=8, seed=results[0]["seed"])
    assert interleaved == list(single)


def drawn_paths(work_dir):
    with open(osp.join(work_dir, "drawn_0.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def resume_config(loop, data_root, work_dir, stop_early=False, resume=False):
    cfg = tiny_config(
        "yolov3_mobilenetv2_fetal-demo_balanced.py",
        data_root,
        work_dir,
        **{
            "randomness.seed": 3,
            "train_cfg.max_epochs": 1 if stop_early else 3,
            "default_hooks.checkpoint.interval": 1,
            "train_dataloader.sampler.draw": "systematic",
        },
    )
    cfg.custom_hooks = [dict(type="RecordDrawnImagesHook"), dict(type="ImagesSeenHook")]
    if loop == "iter":  # 6 iterations of batch 2 from an endless stream, checkpoint at 3
        cfg.train_cfg = dict(
            type="IterBasedTrainLoop", max_iters=3 if stop_early else 6, val_interval=100
        )
        cfg.train_dataloader.sampler = dict(type="InfiniteBalancedQPSampler", num_samples=5)
        cfg.train_dataloader.batch_sampler = None
        cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=3, by_epoch=False)
        cfg.param_scheduler = []
        cfg.log_processor = dict(by_epoch=False)
    cfg.resume = resume
    return cfg


@pytest.mark.parametrize("loop", ["epoch", "iter"])
def test_resume_continues_the_uninterrupted_sequence(loop, data_root, tmp_path):
    straight, interrupted = str(tmp_path / "straight"), str(tmp_path / "interrupted")
    Runner.from_cfg(resume_config(loop, data_root, straight)).train()
    Runner.from_cfg(resume_config(loop, data_root, interrupted, stop_early=True)).train()
    runner = Runner.from_cfg(resume_config(loop, data_root, interrupted, resume=True))
    runner.train()
    sampler = runner.train_dataloader.batch_sampler.sampler
    expected_type = InfiniteBalancedQPSampler if loop == "iter" else BalancedQPSampler
    assert isinstance(sampler, expected_type)
    assert drawn_paths(interrupted) == drawn_paths(straight)
    assert len(drawn_paths(straight)) == (6 if loop == "iter" else 9)  # 3 epochs x 3 iters
    # the race's count of images seen survives the interruption too
    seen = [json.load(open(osp.join(d, "images_seen.json"))) for d in (straight, interrupted)]
    assert seen[0] == seen[1]
    assert seen[0]["images_seen"] == sum(len(r["paths"]) for r in drawn_paths(straight))


@pytest.mark.parametrize("sampler_class", ["ProbabilitySampler", "InfiniteProbabilitySampler"])
def test_plain_pytorch_loop_resumes_the_stream_from_the_sampler_state(sampler_class, tmp_path):
    """A plain PyTorch training loop, killed mid-epoch after a checkpoint (model, optimizer,
    sampler.state_dict()), resumed in a new sampler: the batches fed after the resume are those
    the uninterrupted loop fed."""
    from torch.utils.data import DataLoader, TensorDataset

    import mmdet_balanced.core.sampler as samplers

    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.normal(size=(40, 3)).astype(np.float32))
    dataset = TensorDataset(torch.arange(40), features)
    p = rng.random(40) + 0.1
    batch, epochs, per_epoch = 4, 3, 10

    def loop(start_state=None, stop_after=None):
        sampler = getattr(samplers, sampler_class)(p / p.sum(), seed=3)
        model = torch.nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        done, fed = 0, []
        if start_state is not None:
            checkpoint = torch.load(start_state)
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            sampler.load_state_dict(checkpoint["sampler"])
            done = checkpoint["batches"]
        loader = DataLoader(dataset, batch_size=batch, sampler=sampler)

        def batches():
            nonlocal done
            if sampler_class == "InfiniteProbabilitySampler":  # one endless iterator
                yield from loader
                return
            while True:  # epochs; a resumed one continues where the state says
                epoch, offset = divmod(done, per_epoch)
                if offset == 0:
                    sampler.set_epoch(epoch)
                yield from loader

        for ids, x in batches():
            if done == epochs * per_epoch:
                break
            loss = model(x).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            fed.append(ids.tolist())
            done += 1
            if done == stop_after:  # the checkpoint; then the job is killed
                torch.save(
                    dict(
                        model=model.state_dict(),
                        optimizer=optimizer.state_dict(),
                        sampler=sampler.state_dict(),
                        batches=done,
                    ),
                    tmp_path / "checkpoint.pth",
                )
                return fed
        return fed

    uninterrupted = loop()
    first = loop(stop_after=13)  # epoch 1, 3 batches in
    resumed = loop(start_state=tmp_path / "checkpoint.pth")
    assert first == uninterrupted[:13]
    assert resumed == uninterrupted[13:]
