"""What a model costs: parameters, multiply-accumulates per image, speed on this device."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

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
def interleaved_speed(runs: dict[str, Callable[[int], torch.Tensor]], device: torch.device | str = "cpu",
                      batch: int = 256, rounds: int = 5, warmup: int = 2,
                      latency_calls: int = 4) -> dict[str, dict[str, Any]]:
    """Images per second at ``batch`` and latency (ms) at batch 1 of every ``runs[name](n)`` (which must produce
    ``n`` images), timed in turn, round after round, the order rotated each round: a slow spell of a shared machine
    then falls on every model alike instead of on whichever ran during it. Per model: the median over ``rounds``
    rounds and the range (slowest and fastest round) of each, after ``warmup`` untimed rounds; a round times one
    call at ``batch`` and takes the median of ``latency_calls`` calls at 1."""
    if rounds < 1 or not runs:
        raise ValueError(f"interleaved_speed needs at least one model and one round, got {len(runs)} and {rounds}")
    device = torch.device(device)

    def timed(run: Callable[[int], torch.Tensor], n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run(n)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    names = list(runs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            batch_seconds = timed(runs[name], batch)
            call_seconds = statistics.median(timed(runs[name], 1) for _ in range(latency_calls))
            if round_index >= warmup:
                seconds[name].append(batch_seconds)
                latencies[name].append(call_seconds)
    return {name: {"images_per_second": batch / statistics.median(seconds[name]),
                   "latency_ms": 1000 * statistics.median(latencies[name]),
                   "images_per_second_range": (batch / max(seconds[name]), batch / min(seconds[name])),
                   "latency_ms_range": (1000 * min(latencies[name]), 1000 * max(latencies[name])),
                   "rounds": rounds, "threads": torch.get_num_threads(), "device": str(device), "batch": batch}
            for name in names}


def speed(run: Callable[[int], torch.Tensor], device: torch.device | str = "cpu", batch: int = 256,
          rounds: int = 5, warmup: int = 2) -> dict[str, Any]:
    """``interleaved_speed`` of one model: images per second at ``batch`` and latency (ms) at batch 1 of ``run(n)``,
    medians over ``rounds`` after a warm-up, with their ranges."""
    return interleaved_speed({"model": run}, device, batch, rounds, warmup)["model"]
