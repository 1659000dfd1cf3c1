"""The test architectures, built in torch.nn (no torchvision), and their export to ONNX bytes in one file.

Each is a small version of the block its paper made famous, so every op the importer meets in those
networks appears here: residual adds, 1×1 reductions, concatenation, depthwise convolution, ReLU6,
ceil-mode pooling, BatchNormalization to fold, flatten and a fully connected head.
"""
from __future__ import annotations

import io
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(c_in, c_out, k, s=1, groups=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """ResNet-18/34's block: two 3×3 convs and an identity or 1×1-projection shortcut."""
    def __init__(self, c_in=8, c_out=16, stride=2):
        super().__init__()
        self.a, self.b = conv_bn(c_in, c_out, 3, stride), conv_bn(c_out, c_out, 3)
        self.short = conv_bn(c_in, c_out, 1, stride)

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + self.short(x))


class Bottleneck(nn.Module):
    """ResNet-50's block: 1×1 reduce, 3×3, 1×1 expand, identity shortcut."""
    def __init__(self, c=16, mid=4):
        super().__init__()
        self.a, self.b, self.c = conv_bn(c, mid, 1), conv_bn(mid, mid, 3), conv_bn(mid, c, 1)

    def forward(self, x):
        return F.relu(self.c(F.relu(self.b(F.relu(self.a(x))))) + x)


class Inception(nn.Module):
    """GoogLeNet's module: 1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3 max pool → 1×1; concatenated."""
    def __init__(self, c=8):
        super().__init__()
        self.b1 = nn.Conv2d(c, 4, 1)
        self.b2 = nn.Sequential(nn.Conv2d(c, 3, 1), nn.ReLU(), nn.Conv2d(3, 6, 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 5, padding=2))
        self.b4 = nn.Conv2d(c, 3, 1)

    def forward(self, x):
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)  # GoogLeNet's stage pooling
        p = F.max_pool2d(x, 3, 1, 1)
        return F.relu(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(p)], 1))


class InvertedResidual(nn.Module):
    """MobileNet-v2's block: 1×1 expand + ReLU6, 3×3 depthwise + ReLU6, 1×1 linear projection, residual."""
    def __init__(self, c=8, t=4):
        super().__init__()
        self.expand, self.dw, self.project = conv_bn(c, c * t, 1), conv_bn(c * t, c * t, 3, groups=c * t), conv_bn(c * t, c, 1)

    def forward(self, x):
        return x + self.project(F.relu6(self.dw(F.relu6(self.expand(x)))))


class Fire(nn.Module):
    """SqueezeNet's fire module after a ceil-mode max pool: 1×1 squeeze, then 1×1 and 3×3 expands concatenated."""
    def __init__(self, c=8, squeeze=3, expand=6):
        super().__init__()
        self.squeeze = nn.Conv2d(c, squeeze, 1)
        self.e1, self.e3 = nn.Conv2d(squeeze, expand, 1), nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x):
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        s = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(s)), F.relu(self.e3(s))], 1)


class SmallVGG(nn.Module):
    """Two 3×3 conv stages with max pooling, average pooling to 2×2, flatten, two linear layers, softmax."""
    def __init__(self, c=8, classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, 12), nn.ReLU(), nn.Linear(12, classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 2) if x.shape[-1] != 8 * 4 else F.avg_pool2d(self.features(x), 4)
        return F.softmax(self.head(x), -1)


def stem(block: nn.Module, c: int = 8) -> nn.Module:
    """A 3-channel 3×3 stem before the block, so every model takes an RGB image."""
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(), block)


ARCHITECTURES = {
    "resnet_basic": lambda: stem(BasicBlock()),
    "resnet_bottleneck": lambda: stem(nn.Sequential(nn.Conv2d(8, 16, 1), Bottleneck()), 8),
    "inception": lambda: stem(Inception()),
    "mobilenet_v2": lambda: stem(InvertedResidual()),
    "squeezenet_fire": lambda: stem(Fire()),
    "small_vgg": lambda: stem(SmallVGG()),
}


def randomise_bn(m: nn.Module, seed: int = 0) -> nn.Module:
    """Trained-looking BatchNorm statistics, so folding them is actually tested."""
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            n = mod.num_features
            mod.weight.data = torch.rand(n, generator=g) + 0.5
            mod.bias.data = torch.randn(n, generator=g) * 0.1
            mod.running_mean.data = torch.randn(n, generator=g) * 0.1
            mod.running_var.data = torch.rand(n, generator=g) + 0.5
    return m.eval()


def build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return randomise_bn(ARCHITECTURES[name](), seed)


def export(m: nn.Module, x: torch.Tensor, keep_bn: bool = True) -> bytes:
    """One ONNX file (external_data=False). keep_bn=True uses the TorchScript exporter with the graph left
    in training-preserving form, so BatchNormalization nodes reach the importer to be folded there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if keep_bn:
            f = io.BytesIO()
            torch.onnx.export(m, (x,), f, dynamo=False, opset_version=13, do_constant_folding=False,
                              training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"], output_names=["output"])
            return f.getvalue()
        prog = torch.onnx.export(m, (x,), None, external_data=False, dynamo=True)
        return prog.model_proto.SerializeToString()
