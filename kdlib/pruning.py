"""A student's first weights cut from its teacher: keep the teacher's most important channels.

A student at width 1/8 has 1/8 of the teacher's channels in each hidden layer. Instead of starting from random
weights it can start from the teacher itself with all but its most important channels removed (channel pruning:
Li et al., ICLR 2017, rank filters by their weights' norm; Liu et al., CVPR 2021, prune a GAN's generator this way
before distilling it). A channel's importance here is what it passes on: its mean absolute activation (after the
ReLU, over latents z ~ N(0, I)) times the norm of the weights that carry it into the next layer. A channel that is
rarely active, or whose output the next layer barely reads, costs the pruned network little.
"""

from __future__ import annotations

import torch
from torch import nn

from kdlib.models import Generator, as_subpixel


def _stateful(generator: Generator) -> list[nn.Module]:
    """The layers with weights, in order: latent projection, batch norm, first doubling, batch norm, last doubling
    (the same five in both upsampling designs)."""
    return [layer for layer in generator.net if layer.state_dict()]


def _outgoing_norms(layer: nn.Module) -> torch.Tensor:
    """Per input channel of ``layer``, the norm of the weights that read it (every output channel and tap)."""
    weight = layer.weight  # ConvTranspose2d: in x out x k x k; Conv2d: out x in x k x k
    return weight.pow(2).sum((1, 2, 3) if isinstance(layer, nn.ConvTranspose2d) else (0, 2, 3)).sqrt()


@torch.no_grad()
def channel_importance(generator: Generator, latents: int = 2000, seed: int = 0) -> list[torch.Tensor]:
    """Per hidden layer (the 7x7 maps, then the 14x14), each channel's mean absolute activation after the ReLU on
    ``latents`` draws of z (seeded by ``seed``), times the norm of the next layer's weights that read it."""
    if latents < 1:
        raise ValueError(f"latents must be >= 1, got {latents}")
    device = next(generator.parameters()).device
    z = torch.randn(latents, generator.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    was_training = generator.training
    generator.eval()
    activations, x = [], z
    for layer in generator.net:
        x = layer(x)
        if isinstance(layer, nn.ReLU):
            activations.append(x.abs().mean((0, 2, 3)))
    generator.train(was_training)
    readers = _stateful(generator)[2::2]  # the first doubling reads the 7x7 maps, the last the 14x14
    return [activation * _outgoing_norms(reader) for activation, reader in zip(activations, readers, strict=True)]


CHOICES = ("important", "random")  # which of the teacher's channels a cut keeps


@torch.no_grad()
def pruned_generator(teacher: Generator, width: float, upsampling: str = "transposed", latents: int = 2000,
                     seed: int = 0, keep: str = "important") -> Generator:
    """A ``Generator`` of ``width`` (and ``upsampling``) holding the ``teacher``'s most important channels
    (``channel_importance``) with their weights and batch-norm statistics: the teacher with the other channels cut.
    ``keep='random'`` keeps as many channels drawn at random (seeded by ``seed``) instead: the control that tells
    whether the ranking matters or any of the teacher's channels would do.

    A sub-pixel student takes the teacher's transposed convolutions re-laid out (``as_subpixel``): the kept channels
    compute the same maps in either design. Returned in training mode, as a freshly built network is.
    """
    if not isinstance(teacher, Generator):
        raise ValueError(f"the teacher must be a kdlib.Generator, got {type(teacher).__name__}")
    if not 0 < width < teacher.width:
        raise ValueError(f"a pruned student's width must be in (0, {teacher.width:g}) (the teacher's), got {width}")
    device = next(teacher.parameters()).device
    student = Generator(teacher.latent_dim, width, upsampling).to(device)
    source = as_subpixel(teacher) if upsampling == "subpixel" and teacher.upsampling == "transposed" else teacher
    if source.upsampling != upsampling:
        raise ValueError(f"cannot cut a {upsampling!r} student from a {teacher.upsampling!r} teacher")
    if keep not in CHOICES:
        raise ValueError(f"keep must be one of {CHOICES}, got {keep!r}")
    if keep == "important":
        scores = channel_importance(teacher, latents, seed)
    else:  # a random ranking: as many channels, drawn by the seed
        draw = torch.Generator().manual_seed(seed)
        scores = [torch.rand(norm.num_features, generator=draw) for norm in _stateful(teacher)[1::2]]
    kept = [ranking.topk(norm.num_features).indices.sort().values.to(device)  # as many as the student's layer has
            for ranking, norm in zip(scores, _stateful(student)[1::2], strict=True)]
    project, norm_wide, first, norm_narrow, last = _stateful(source)
    cut = dict(zip(("project", "norm_wide", "first", "norm_narrow", "last"), _stateful(student), strict=True))
    wide, narrow = kept
    cut["project"].weight.copy_(project.weight[:, wide])
    for target, norm, channels in ((cut["norm_wide"], norm_wide, wide), (cut["norm_narrow"], norm_narrow, narrow)):
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(target, name).copy_(getattr(norm, name)[channels])
    if upsampling == "transposed":  # in x out x 4 x 4
        cut["first"].weight.copy_(first.weight[wide][:, narrow])
        cut["last"].weight.copy_(last.weight[narrow])
    else:  # out x in x 3 x 3, output channel 4c + phase holding channel c (PixelShuffle's order)
        phases = (4 * narrow[:, None] + torch.arange(4, device=narrow.device)).flatten()
        cut["first"].weight.copy_(first.weight[phases][:, wide])
        cut["last"].weight.copy_(last.weight[:, narrow])
    cut["last"].bias.copy_(last.bias)
    return student.train()
