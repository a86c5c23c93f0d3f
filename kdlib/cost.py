"""What a model costs: parameters, multiply-accumulates per image, speed on this device."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def macs_per_image(model: nn.Module, example_input: torch.Tensor) -> int:
    """Multiply-accumulates for one input (FLOPs counted by PyTorch, divided by 2)."""
    if example_input.shape[0] != 1:
        raise ValueError(f"give one input (batch of 1), got batch {example_input.shape[0]}")
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(example_input)
    return counter.get_total_flops() // 2


@torch.no_grad()
def speed(run: Callable[[int], torch.Tensor], device: torch.device | str = "cpu", batch: int = 256,
          repeats: int = 5, warmup: int = 2) -> dict[str, float]:
    """Images per second at ``batch`` and latency (ms) at batch 1, medians after a warm-up, of ``run(n)``, which
    must produce ``n`` images (e.g. sample ``n`` latents and decode them)."""
    device = torch.device(device)

    def timed(n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run(n)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for _ in range(warmup):
        timed(batch)
        timed(1)
    throughput = batch / statistics.median(timed(batch) for _ in range(repeats))
    latency = statistics.median(timed(1) for _ in range(repeats * 4))
    return {"images_per_second": throughput, "latency_ms": 1000 * latency,
            "threads": torch.get_num_threads(), "device": str(device), "batch": batch}
