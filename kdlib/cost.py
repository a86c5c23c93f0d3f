"""What a model costs: parameters, multiply-accumulates per image, speed on this device."""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
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


KEEP_FREED_BYTES = 1 << 30  # glibc's trim threshold while timing: freed memory up to this stays in the process
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest: blocks up to this come from the heap, not fresh mmap pages


def steady_heap() -> bool:
    """Make this process keep the memory it frees (glibc's ``mallopt``: trim threshold 1 GiB, mmap threshold 32 MiB),
    as caching allocators such as jemalloc do, so that a timed call reuses memory instead of faulting in fresh pages.

    Why: by default glibc returns large freed blocks to the system, so every call of a model with large activations
    pays page faults for them again. Measured here on the GAN teacher at batch 256: about 22,000 minor page faults
    and 2.3x the time per call; the student's small activations pay far less, so default-heap timings flatter small
    models. The setting lasts for the process (it costs memory kept, not speed). Returns False where glibc's
    ``mallopt`` is unavailable (not Linux/glibc): timings there are taken as the system's allocator gives them.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_trim_threshold, KEEP_FREED_BYTES)) and bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES))


@torch.no_grad()
def interleaved_speed(runs: dict[str, Callable[[int], torch.Tensor]], device: torch.device | str = "cpu",
                      batch: int = 256, rounds: int = 5, warmup: int = 2, latency_calls: int = 4,
                      warm_calls: int = 1) -> dict[str, dict[str, Any]]:
    """Images per second at ``batch`` and latency (ms) at batch 1 of every ``runs[name](n)`` (which must produce
    ``n`` images), timed in turn, round after round, the order rotated each round: a slow spell of a shared machine
    then falls on every model alike instead of on whichever ran during it. Per model: the median over ``rounds``
    rounds and the range (slowest and fastest round) of each, after ``warmup`` untimed rounds, and each round's
    images/s in round order (``images_per_second_rounds``: two models' ratio round by round compares timings taken
    moments apart); a round times one call at ``batch`` and takes the median of ``latency_calls`` calls at 1. The
    process's heap is made steady first (``steady_heap``), so that no model's time is page faults; ``steady_heap``
    in the result says whether it was.

    Each timed call follows ``warm_calls`` untimed calls of the same model, so that it finds the caches as a model
    generating batch after batch would, not as the previous model left them: timed cold, right after another model,
    a small student's images/s depended on the company it was timed in (64,651 beside the teacher alone, 89,158
    among 12 students like it, on a 2-core Intel Xeon); after one warm call, 75,934 and 77,550
    (docs/results/experiments.md, "Timing a generator in company")."""
    if rounds < 1 or not runs:
        raise ValueError(f"interleaved_speed needs at least one model and one round, got {len(runs)} and {rounds}")
    if warm_calls < 0:
        raise ValueError(f"warm_calls counts untimed calls before each timed one: give 0 or more, got {warm_calls}")
    device, steady = torch.device(device), steady_heap()

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
            for _ in range(warm_calls):
                runs[name](batch)
            batch_seconds = timed(runs[name], batch)
            call_seconds = statistics.median(timed(runs[name], 1) for _ in range(latency_calls))
            if round_index >= warmup:
                seconds[name].append(batch_seconds)
                latencies[name].append(call_seconds)
    return {name: {"images_per_second": batch / statistics.median(seconds[name]),
                   "latency_ms": 1000 * statistics.median(latencies[name]),
                   "images_per_second_range": (batch / max(seconds[name]), batch / min(seconds[name])),
                   "images_per_second_rounds": tuple(batch / round_seconds for round_seconds in seconds[name]),
                   "latency_ms_range": (1000 * min(latencies[name]), 1000 * max(latencies[name])),
                   "rounds": rounds, "threads": torch.get_num_threads(), "device": str(device), "batch": batch,
                   "steady_heap": steady, "warm_calls": warm_calls}
            for name in names}


def speed(run: Callable[[int], torch.Tensor], device: torch.device | str = "cpu", batch: int = 256,
          rounds: int = 5, warmup: int = 2) -> dict[str, Any]:
    """``interleaved_speed`` of one model: images per second at ``batch`` and latency (ms) at batch 1 of ``run(n)``,
    medians over ``rounds`` after a warm-up, with their ranges."""
    return interleaved_speed({"model": run}, device, batch, rounds, warmup)["model"]


@dataclass(frozen=True)
class LayerTime:
    """One layer of a sequential model, timed on a batch: its output shape, median milliseconds, multiply-accumulates."""

    layer: str
    output: tuple[int, ...]
    milliseconds: float
    macs: int

    @property
    def gmacs_per_second(self) -> float:
        """The arithmetic rate the layer reached (0 for a layer with no multiply-accumulates)."""
        return self.macs / self.milliseconds / 1e6 if self.macs else 0.0


@torch.no_grad()
def layer_times(models: dict[str, nn.Sequential], example: torch.Tensor, rounds: int = 7,
                warmup: int = 2) -> dict[str, list[LayerTime]]:
    """Where each model's time goes: every layer of every ``models[name]`` (an ``nn.Sequential``) timed on the
    batch ``example`` (the first layer's input), the models taken in turn each round (as ``interleaved_speed``
    does), median over ``rounds`` after ``warmup``, on a steady heap (``steady_heap``). MACs are for the whole batch."""
    if rounds < 1 or not models:
        raise ValueError(f"layer_times needs at least one model and one round, got {len(models)} and {rounds}")
    steady_heap()
    for name, model in models.items():
        if not isinstance(model, nn.Sequential):
            raise ValueError(f"model {name!r} is a {type(model).__name__}, not an nn.Sequential: give its "
                             "sequence of layers (e.g. a Generator's .net)")
        model.eval()
    seconds = {name: [[] for _ in model] for name, model in models.items()}
    for round_index in range(warmup + rounds):
        for name, model in models.items():
            x = example
            for index, layer in enumerate(model):
                start = time.perf_counter()
                x = layer(x)
                if round_index >= warmup:
                    seconds[name][index].append(time.perf_counter() - start)
    timings = {}
    for name, model in models.items():
        rows, x = [], example
        for index, layer in enumerate(model):
            with FlopCounterMode(display=False) as counter:
                y = layer(x)
            rows.append(LayerTime(f"{index}: {type(layer).__name__}", tuple(y.shape[1:]),
                                  1000 * statistics.median(seconds[name][index]), counter.get_total_flops() // 2))
            x = y
        timings[name] = rows
    return timings
