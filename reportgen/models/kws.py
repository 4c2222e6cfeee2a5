"""Keyword spotting for microcontrollers: DS-CNN from "Hello Edge" (Zhang et al. 2017).

Built-in, so a card can name it as ``source: python, callable: "reportgen.models.kws:ds_cnn_s"``
(``reportgen.*`` callables run without ``--allow-code``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.fx
from torch import Tensor, nn


def to_nchw(x: Tensor) -> Tensor:
    """``(N, features, frames)`` → ``(N, 1, frames, features)``; 4-D inputs pass unchanged."""
    if x.dim() == 3:
        x = x.transpose(1, 2).unsqueeze(1)
    return x


# a leaf for FX symbolic tracing (FX graph-mode quantization): its branch on the input's rank
# cannot be traced symbolically, so the traced graph calls the function instead of tracing into it
torch.fx.wrap("to_nchw")


class DSConvBlock(nn.Module):
    """Depthwise 3×3 conv + BN + ReLU, then pointwise 1×1 conv + BN + ReLU."""

    def __init__(self, channels: int, out_channels: int, kernel: tuple[int, int] = (3, 3),
                 stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        pad = (kernel[0] // 2, kernel[1] // 2)
        self.depthwise = nn.Conv2d(channels, channels, kernel, stride, pad, groups=channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pointwise = nn.Conv2d(channels, out_channels, 1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.bn1(self.depthwise(x)))
        return self.act(self.bn2(self.pointwise(x)))


class DSCNN(nn.Module):
    """Depthwise-separable CNN keyword spotter (Zhang et al. 2017, Sec. 4.5 / Table 7).

    Input: MFCC (or log-mel) features as ``(N, n_features, frames)`` — the layout reportgen's
    speech inputs use — or ``(N, 1, frames, n_features)`` as in the paper's TensorFlow code.
    A first standard conv (``first_kernel``, stride 2×2, 'same' padding), ``len(channels)``
    depthwise-separable blocks, global average pooling and one linear classifier.
    """

    def __init__(self, num_classes: int = 12, channels: Sequence[int] = (64, 64, 64, 64),
                 first_channels: int = 64, first_kernel: tuple[int, int] = (10, 4),
                 first_stride: tuple[int, int] = (2, 2)) -> None:
        super().__init__()
        k = (first_kernel[0], first_kernel[1])  # a list from YAML becomes the tuple Conv2d takes
        # TensorFlow 'SAME' padding for the paper's even 10×4 kernel: pad (k-1)//2 before and
        # the rest after; with stride 2 on 49×10 MFCCs this gives 25×5 as in the paper
        self.pad = nn.ZeroPad2d(((k[1] - 1) // 2, k[1] // 2, (k[0] - 1) // 2, k[0] // 2))
        self.conv = nn.Conv2d(1, first_channels, k, (first_stride[0], first_stride[1]))
        self.bn = nn.BatchNorm2d(first_channels)
        self.act = nn.ReLU()
        blocks: list[nn.Module] = []
        c_in = first_channels
        for c in channels:
            blocks.append(DSConvBlock(c_in, c))
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = to_nchw(x)
        x = self.act(self.bn(self.conv(self.pad(x))))
        x = self.pool(self.blocks(x)).flatten(1)
        return self.classifier(x)


def ds_cnn_s(**kwargs: object) -> DSCNN:
    """DS-CNN-S, the "small" (≤80 KB memory, ≤6 MOps) model of Hello Edge: 64 filters 10×4 stride
    2×2, then 4 depthwise-separable layers of 64 channels (3×3), 12 classes (Google Speech
    Commands: 10 keywords + silence + unknown), on 49×10 MFCCs (40 ms window, 20 ms hop, 1 s).
    Configuration as in ARM's ML-KWS-for-MCU reference (`model_size_info 5 64 10 4 2 2 64 3 3
    1 1 ...`)."""
    return DSCNN(**kwargs)  # type: ignore[arg-type]


def ds_cnn_m(**kwargs: object) -> DSCNN:
    """DS-CNN-M: 172 filters, 4 DS layers of 172 channels (Hello Edge, Table 7 "M")."""
    args: dict = {"channels": (172,) * 4, "first_channels": 172}
    args.update(kwargs)
    return DSCNN(**args)
