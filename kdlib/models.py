"""The course's networks. Teachers and students are the same family at different sizes."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from kdlib.mixture import GaussianMixture


class MLP(nn.Module):
    """A fully connected classifier on flattened images: ``sizes = (784, hidden..., classes)``.

    ``dropout`` applies to every hidden layer, ``input_dropout`` to the pixels
    (Hinton et al. 2015's teacher used both; their small student used neither).
    """

    def __init__(self, sizes: Sequence[int], dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        super().__init__()
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must be at least (inputs, outputs), all >= 1; got {list(sizes)}")
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        self.sizes = tuple(sizes)
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def _channels(width: float, base: int) -> int:
    """Channels of a layer: ``base`` at width 1, scaled by ``width`` (at least 1)."""
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(1, round(base * width))


def _check_latent(latent_dim: int) -> None:
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")


class Generator(nn.Module):
    """DCGAN-style generator: latent z -> 1 x 28 x 28 image in [-1, 1].

    7x7 (128 channels) -> 14x14 (64) -> 28x28 (1), batch norm and ReLU between, tanh at the end.
    ``width`` scales every layer's channels, so a student is the teacher at a fraction of the
    width (same depth, same latent). ``upsampling`` is how each of the two steps doubles the
    resolution: "transposed" (DCGAN's 4x4 stride-2 transposed convolution) or "subpixel" (a 3x3
    convolution to 4x the channels, one group per output pixel phase, interleaved by
    ``PixelShuffle(2)``: Shi et al. 2016). A sub-pixel layer can compute every function the
    transposed one can (``as_subpixel``), in a layout that runs far faster on a CPU.
    """

    UPSAMPLING = ("transposed", "subpixel")

    def __init__(self, latent_dim: int = 64, width: float = 1.0, upsampling: str = "transposed") -> None:
        super().__init__()
        _check_latent(latent_dim)
        if upsampling not in self.UPSAMPLING:
            raise ValueError(f"upsampling must be one of {self.UPSAMPLING}, got {upsampling!r}")
        self.latent_dim, self.width, self.upsampling = latent_dim, width, upsampling
        wide, narrow = _channels(width, 128), _channels(width, 64)

        def doubled(inputs: int, outputs: int, bias: bool) -> list[nn.Module]:
            if upsampling == "transposed":
                return [nn.ConvTranspose2d(inputs, outputs, 4, 2, 1, bias=bias)]
            return [nn.Conv2d(inputs, 4 * outputs, 3, 1, 1, bias=bias), nn.PixelShuffle(2)]

        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, wide, 7, bias=False), nn.BatchNorm2d(wide), nn.ReLU(),
            *doubled(wide, narrow, bias=False), nn.BatchNorm2d(narrow), nn.ReLU(),
            *doubled(narrow, 1, bias=True), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def as_subpixel(generator: Generator) -> Generator:
    """The same generator with sub-pixel upsampling: it computes exactly the same images (up to float rounding),
    so the two designs express the same functions and only their speed differs."""
    if generator.upsampling != "transposed":
        raise ValueError(f"the generator's upsampling is already {generator.upsampling!r}")
    relaid = Generator(generator.latent_dim, generator.width, "subpixel").to(next(generator.parameters()).device)
    stateful = [[layer for layer in net if layer.state_dict()] for net in (generator.net, relaid.net)]
    with torch.no_grad():
        for source, target in zip(*stateful, strict=True):
            if isinstance(target, nn.Conv2d):  # a stride-2 transposed convolution, re-laid out
                source = subpixel_layer(source)[0]
            target.load_state_dict(source.state_dict())
    return relaid.train(generator.training)


def last_layer_as_subpixel(generator: Generator) -> Generator:
    """The same generator with only its last upsampling layer re-laid out as a sub-pixel convolution
    (``subpixel_layer``): the same images. For a DCGAN teacher on a CPU this is the fastest exact layout: its last
    transposed convolution (to one channel) runs far below the arithmetic rate of its wider layers, while re-laying
    out the middle one too costs that layer 2.25x its MACs (docs/results/experiments.md, the CPU student design).

    A layout for timing and sampling, not one the course trains: its ``upsampling`` reads "transposed, last
    sub-pixel", which ``as_subpixel`` and ``kdlib.pruning.pruned_generator`` refuse by name."""
    if not isinstance(generator, Generator) or generator.upsampling != "transposed":
        found = repr(generator.upsampling) if isinstance(generator, Generator) else f"a {type(generator).__name__}"
        raise ValueError(f"need a Generator with transposed upsampling (its last layer is re-laid out), got {found}")
    relaid = copy.deepcopy(generator)
    last = max(index for index, layer in enumerate(relaid.net) if isinstance(layer, nn.ConvTranspose2d))
    relaid.net[last] = subpixel_layer(generator.net[last])
    relaid.upsampling = "transposed, last sub-pixel"
    return relaid


def subpixel_layer(layer: nn.ConvTranspose2d) -> nn.Sequential:
    """A 3x3 convolution and ``PixelShuffle(2)`` that compute what ``layer`` (a 4x4, stride-2, padding-1 transposed
    convolution) computes: one layer of ``as_subpixel``, for re-laying out a single layer of a trained network.

    Output pixel ``2i + a`` of the transposed convolution sums input ``i + d`` with kernel tap ``k``:
    phase a = 0 takes (d, k) = (0, 1), (-1, 3); phase a = 1 takes (+1, 0), (0, 2) (likewise for columns).
    Output channel ``4c + 2a + b`` of the convolution holds phase (a, b) of channel c, which ``PixelShuffle`` places.
    """
    if (layer.kernel_size, layer.stride, layer.padding, layer.output_padding, layer.groups) != ((4, 4), (2, 2), (1, 1),
                                                                                                (0, 0), 1):
        raise ValueError(f"need a 4x4, stride-2, padding-1 transposed convolution (ungrouped), got {layer}")
    inputs, outputs = layer.in_channels, layer.out_channels
    taps = {0: {0: 1, -1: 3}, 1: {1: 0, 0: 2}}  # phase -> input offset d -> kernel tap k
    weight = torch.zeros(4 * outputs, inputs, 3, 3, dtype=layer.weight.dtype, device=layer.weight.device)
    for c in range(outputs):
        for a in (0, 1):
            for b in (0, 1):
                for dy, ky in taps[a].items():
                    for dx, kx in taps[b].items():
                        weight[4 * c + 2 * a + b, :, dy + 1, dx + 1] = layer.weight.detach()[:, c, ky, kx]
    conv = nn.Conv2d(inputs, 4 * outputs, 3, 1, 1, bias=layer.bias is not None).to(weight.device)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if layer.bias is not None:
            conv.bias.copy_(layer.bias.detach().repeat_interleave(4))
    return nn.Sequential(conv, nn.PixelShuffle(2))


class Discriminator(nn.Module):
    """DCGAN-style discriminator: 1 x 28 x 28 image -> one logit (real vs generated).

    28x28 -> 14x14 (32 channels) -> 7x7 (64) by strided convolutions with leaky
    ReLU (batch norm on the second), then a linear layer. ``width`` scales channels.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        narrow, wide = _channels(width, 32), _channels(width, 64)
        self.features = nn.Sequential(
            nn.Conv2d(1, narrow, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(narrow, wide, 4, 2, 1, bias=False), nn.BatchNorm2d(wide), nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(wide * 7 * 7, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).squeeze(1)


class VAE(nn.Module):
    """Convolutional variational autoencoder for 1 x 28 x 28 images in [0, 1].

    Encoder: 28x28 -> 14x14 (32 channels) -> 7x7 (64) by strided convolutions, then
    a linear layer to the mean and log-variance of a Gaussian posterior q(z | x).
    Decoder: the mirror image, ending in one logit per pixel (Bernoulli likelihood).
    ``width`` scales every layer's channels; ``latent_dim`` is the size of z.
    """

    def __init__(self, latent_dim: int = 16, width: float = 1.0) -> None:
        super().__init__()
        _check_latent(latent_dim)
        self.latent_dim, self.width = latent_dim, width
        narrow, wide = _channels(width, 32), _channels(width, 64)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, narrow, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(narrow, wide, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(wide * 7 * 7, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, wide * 7 * 7), nn.LeakyReLU(0.2), nn.Unflatten(1, (wide, 7, 7)),
            nn.ConvTranspose2d(wide, narrow, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(narrow, 1, 4, 2, 1),
        )

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x)."""
        mean, log_variance = self.encoder(images).chunk(2, dim=1)
        return mean, log_variance

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits of p(x | z); ``sigmoid`` gives each pixel's mean in [0, 1]."""
        return self.decoder(z)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits from one reparameterised sample ``z = mean + std * eps``, mean, log-variance."""
        mean, log_variance = self.encode(images)
        z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        return self.decode(z), mean, log_variance


class Decoder(nn.Module):
    """A VAE's decoder as a generator: z -> image in [-1, 1] (the Bernoulli means, rescaled).

    Shares the VAE's decoder weights (not the encoder's: sampling does not use it),
    so that the evaluation toolkit measures a VAE's samples and cost like a GAN's. ``prior`` is where its
    latents are drawn from (``kdlib.sampler``): None, the training prior N(0, I); or an ex-post prior
    (``kdlib.mixture.ex_post_prior``).
    """

    def __init__(self, vae: VAE, prior: GaussianMixture | None = None) -> None:
        super().__init__()
        self.decoder, self.latent_dim, self.prior = vae.decoder, vae.latent_dim, prior
        if prior is not None and prior.means.shape[1] != vae.latent_dim:
            raise ValueError(f"the prior is over {prior.means.shape[1]} dimensions, the VAE's latents over "
                             f"{vae.latent_dim}: fit it to this VAE's codes (kdlib.mixture.ex_post_prior)")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)) * 2 - 1


def build(family: str, latent_dim: int, width: float, upsampling: str = "transposed") -> nn.Module:
    """An untrained model of ``family``: "gan", a ``Generator`` (with ``upsampling``); "vae", a ``VAE``."""
    if family == "gan":
        return Generator(latent_dim, width, upsampling)
    if family != "vae":
        raise ValueError(f"family {family!r} is not one of ['gan', 'vae']")
    if upsampling != "transposed":
        raise ValueError(f"upsampling {upsampling!r} is for GAN generators; a VAE's decoder has transposed convolutions")
    return VAE(latent_dim, width)


def as_generator(model: nn.Module, prior: GaussianMixture | None = None) -> nn.Module:
    """A model that maps z to images in [-1, 1]: a generator as is, a VAE's decoder (``Decoder``, sampling from
    ``prior``; None: N(0, I))."""
    if prior is not None and not isinstance(model, VAE):
        raise ValueError(f"a prior is for a VAE's decoder, not a {type(model).__name__}: leave prior=None")
    return Decoder(model, prior) if isinstance(model, VAE) else model
