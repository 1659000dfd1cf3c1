"""Comparisons for the cost lab and real architectures, transcribed from the papers as layer lists.

Each architecture is a list of top-level layers, one per row of the paper's table, so the lab can put
its computed params and MACs beside the printed ones. Printed values are copied with their source
(the project's verified transcription, ../shared/papers/papers.json, is copied to tests/data; tests check these
against it). Counts are weights only unless a paper counts biases (SqueezeNet does).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from app.engine.design import Add, Block, Concat, Conv, Fc, Layer, Pool, Relu


@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    description: str
    input_shape: tuple[int, int, int]
    designs: tuple[tuple[str, tuple[Layer, ...]], ...]


def _inception(n1, r3, n3, r5, n5, pp, name, reduce=True) -> Concat:
    if not reduce:
        return Concat(((Conv(n1, 1),), (Conv(n3, 3, padding=1),), (Conv(n5, 5, padding=2),),
                       (Pool(3, 1, 1),)), name)
    return Concat(((Conv(n1, 1),), (Conv(r3, 1), Conv(n3, 3, padding=1)), (Conv(r5, 1), Conv(n5, 5, padding=2)),
                   (Pool(3, 1, 1), Conv(pp, 1))), name)


COMPARISONS: dict[str, Comparison] = {c.name: c for c in [
    Comparison("seed", "The 1×1 bottleneck: 256→256 with a 4×4 kernel",
               "A 1×1 convolution to 64 channels first: 256·64 + 64·256·16 = 278,528 weights instead of "
               "256·256·16 = 1,048,576 (3.76× fewer).", (256, 28, 28),
               (("naive 4×4", (Conv(256, 4, padding="same"),)),
                ("1×1 to 64, then 4×4", (Conv(64, 1), Relu(), Conv(256, 4, padding="same"))))),
    Comparison("inception3a", "GoogLeNet inception (3a) on 28×28×192",
               "Without the 1×1 reductions the 3×3 and 5×5 branches see all 192 channels, and the pool "
               "branch passes 192 channels on.", (192, 28, 28),
               (("naive module", (_inception(64, 96, 128, 16, 32, 32, "inception (3a) naive", reduce=False),)),
                ("with 1×1 reductions", (_inception(64, 96, 128, 16, 32, 32, "inception (3a)"),)))),
    Comparison("resnet_bottleneck", "ResNet bottleneck (256-d) vs two 3×3 convolutions",
               "1×1 to 64, 3×3 at 64, 1×1 back to 256 (ResNet-50) vs two 3×3 layers at 256.", (256, 56, 56),
               (("two 3×3 at 256", (Conv(256, 3, padding=1), Relu(), Conv(256, 3, padding=1))),
                ("bottleneck 1×1-3×3-1×1", (Conv(64, 1), Relu(), Conv(64, 3, padding=1), Relu(), Conv(256, 1))))),
    Comparison("mobilenet_separable", "MobileNet depthwise-separable vs standard 3×3",
               "Cost ratio 1/N + 1/k² = 1/512 + 1/9 ≈ 0.113: 8 to 9 times less computation.", (512, 14, 14),
               (("standard 3×3", (Conv(512, 3, padding=1),)),
                ("3×3 depthwise + 1×1 pointwise", (Conv(512, 3, padding=1, groups=0), Relu(), Conv(512, 1))))),
    Comparison("v3_5x5", "Inception-v3: a 5×5 as two 3×3", "(9 + 9)/25 = 0.72: 28% fewer.", (64, 35, 35),
               (("5×5", (Conv(64, 5, padding=2),)), ("two 3×3", (Conv(64, 3, padding=1), Relu(), Conv(64, 3, padding=1))))),
    Comparison("v3_asym", "Inception-v3: a 3×3 as 3×1 then 1×3", "(3 + 3)/9 = 0.67: 33% fewer.", (64, 17, 17),
               (("3×3", (Conv(64, 3, padding=1),)),
                ("3×1 then 1×3", (Conv(64, (3, 1), padding=(1, 0)), Conv(64, (1, 3), padding=(0, 1)))))),
]}


@dataclass(frozen=True)
class Printed:
    """A value as the paper prints it, and the number it stands for (K = 1000 unless `unit_base` says)."""
    text: str
    value: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    input_shape: tuple[int, int, int]
    layers: tuple[Layer, ...]
    row_names: tuple[str, ...]
    printed_params: dict[int, Printed] = field(default_factory=dict)   # top-level row index → printed
    printed_macs: dict[int, Printed] = field(default_factory=dict)
    printed_totals: dict[str, Printed] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


G_SRC = "GoogLeNet arXiv:1409.4842v1, Table 1"
GOOGLENET_MODULES = [  # name, n1, r3, n3, r5, n5, pool proj, printed params (K), printed ops (M)
    ("inception (3a)", 64, 96, 128, 16, 32, 32, "159K", "128M"), ("inception (3b)", 128, 128, 192, 32, 96, 64, "380K", "304M"),
    ("max pool", 0, 0, 0, 0, 0, 0, None, None),
    ("inception (4a)", 192, 96, 208, 16, 48, 64, "364K", "73M"), ("inception (4b)", 160, 112, 224, 24, 64, 64, "437K", "88M"),
    ("inception (4c)", 128, 128, 256, 24, 64, 64, "463K", "100M"), ("inception (4d)", 112, 144, 288, 32, 64, 64, "580K", "119M"),
    ("inception (4e)", 256, 160, 320, 32, 128, 128, "840K", "170M"),
    ("max pool", 0, 0, 0, 0, 0, 0, None, None),
    ("inception (5a)", 256, 160, 320, 32, 128, 128, "1072K", "54M"), ("inception (5b)", 384, 192, 384, 48, 128, 128, "1388K", "71M"),
]
GOOGLENET_MISPRINTS = {
    "convolution 7×7/2": "printed 2.7K params / 34M ops; its own dimensions give 9.4K weights and 118M MACs",
    "inception (4c)": "printed 463K params; its own dimensions give 509,440 weights (497.5 K of 1024)",
    "inception (5a)": "printed 1072K params and 54M ops; its own dimensions give 1,042,432 weights and 51.1M MACs",
}


def _k(text: str) -> float:
    return float(text[:-1]) * (1024 if text.endswith("K") else 1e6)


def googlenet() -> Architecture:
    layers: list[Layer] = [Conv(64, 7, 2, 3, name="convolution 7×7/2"), Pool(3, 2, 1, name="max pool 3×3/2"),
                           Block((Conv(64, 1), Conv(192, 3, padding=1)), "convolution 3×3/1"),
                           Pool(3, 2, 1, name="max pool 3×3/2")]
    names = ["convolution 7×7/2", "max pool 3×3/2", "convolution 3×3/1", "max pool 3×3/2"]
    printed_p = {0: Printed("2.7K", 2.7 * 1024, G_SRC, GOOGLENET_MISPRINTS["convolution 7×7/2"]),
                 2: Printed("112K", 112 * 1024, G_SRC)}
    printed_m = {0: Printed("34M", 34e6, G_SRC, GOOGLENET_MISPRINTS["convolution 7×7/2"]), 2: Printed("360M", 360e6, G_SRC)}
    for name, n1, r3, n3, r5, n5, pp, pk, pm in GOOGLENET_MODULES:
        idx = len(layers)
        if name == "max pool":
            layers.append(Pool(3, 2, 1, name="max pool 3×3/2"))
            names.append("max pool 3×3/2")
            continue
        layers.append(_inception(n1, r3, n3, r5, n5, pp, name))
        names.append(name)
        note = GOOGLENET_MISPRINTS.get(name, "")
        printed_p[idx] = Printed(pk, _k(pk), G_SRC, note)
        printed_m[idx] = Printed(pm, _k(pm), G_SRC, note if "ops" in note else "")
    layers += [Pool(7, 1, kind="avg", name="avg pool 7×7/1"), Fc(1000, name="linear")]
    names += ["avg pool 7×7/1", "linear"]
    printed_p[len(layers) - 1] = Printed("1000K", 1000 * 1024, G_SRC)
    printed_m[len(layers) - 1] = Printed("1M", 1e6, G_SRC)
    return Architecture("googlenet", "GoogLeNet (Inception v1), 224×224", (3, 224, 224), tuple(layers), tuple(names),
                        printed_p, printed_m,
                        notes=("Table 1 prints params in K of 1024 weights and ops in M (10⁶) multiply-adds; biases "
                               "are not counted. The paper states a 1.5 billion multiply-add budget, not a total.",))


M_SRC = "MobileNets arXiv:1704.04861v1"
# (stride of the depthwise layer, pointwise output channels) for the 13 separable blocks of Table 1; the
# last depthwise is printed "s2" on a 7×7 map that stays 7×7: taken as stride 1 (papers.json, row 18)
MOBILENET_BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
                    (1, 512), (1, 512), (2, 1024), (1, 1024)]


def mobilenet(alpha: float = 1.0, resolution: int = 224) -> Architecture:
    """MobileNet-v1 with width multiplier α (channels ×α) and input resolution ρ·224."""
    ch = lambda c: max(1, int(c * alpha))  # noqa: E731
    layers: list[Layer] = [Conv(ch(32), 3, 2, 1, name="Conv / s2")]
    names = ["Conv 3×3 / s2"]
    c = ch(32)
    for s, out in MOBILENET_BLOCKS:
        layers += [Conv(c, 3, s, 1, groups=0, name=f"Conv dw / s{s}"), Conv(ch(out), 1, name="Conv 1×1 / s1")]
        names += [f"Conv dw 3×3 / s{s}", "Conv 1×1 / s1"]
        c = ch(out)
    side = resolution
    for _ in range(5):
        side = (side + 1) // 2  # each stride-2 3×3 with padding 1 halves, rounding up
    layers += [Pool(side, 1, name=f"Avg Pool {side}×{side}", kind="avg"), Fc(1000, name="FC")]
    names += [f"Avg Pool {side}×{side}", "FC 1024α × 1000"]
    totals = {}
    if alpha == 1.0 and resolution == 224:
        totals = {"macs": Printed("569 million Mult-Adds", 569e6, f"{M_SRC}, Tables 4, 6, 7, 8"),
                  "params": Printed("4.2 million parameters", 4.2e6, f"{M_SRC}, Tables 4, 6, 7, 8")}
    return Architecture("mobilenet", f"MobileNet-v1 (width α = {alpha:g}), {resolution}×{resolution}", (3, resolution, resolution),
                        tuple(layers), tuple(names), printed_totals=totals,
                        notes=("Weights only (no bias, no batch-norm). Table 1 prints the last depthwise layer as "
                               "s2 on a 7×7 map that stays 7×7; it is counted as stride 1.",
                               "Table 2 prints 1.19% of mult-adds for the standard 3×3 layer, but its own "
                               "dimensions give 1.91%; the other rows agree."))


MOBILENET_TABLE2 = {  # MobileNets Table 2 "Resource per layer type": kind → (mult-adds %, params %)
    "1×1 conv": (94.86, 74.59), "depthwise conv": (3.06, 1.06), "k×k conv": (1.19, 0.02), "fully connected": (0.18, 24.33)}

S_SRC = "SqueezeNet arXiv:1602.07360v4, Table 1"
SQUEEZE_FIRES = [(16, 64, 64), (16, 64, 64), (32, 128, 128), None, (32, 128, 128), (48, 192, 192), (48, 192, 192),
                 (64, 256, 256), None, (64, 256, 256)]
SQUEEZE_PRINTED = [14208, None, 11920, 12432, 45344, None, 49440, 104880, 111024, 188992, None, 197184, 513000]


def squeezenet() -> Architecture:
    """SqueezeNet 1.0. A 227×227 input gives the printed 111×111 after conv1 (224 would give 109)."""
    layers: list[Layer] = [Conv(96, 7, 2, bias=True, name="conv1"), Pool(3, 2, name="maxpool1")]
    names = ["conv1", "maxpool1"]
    fire = 2
    for f in SQUEEZE_FIRES:
        if f is None:
            layers.append(Pool(3, 2, name="maxpool"))
            names.append(f"maxpool{fire - 1}")
            continue
        s, e1, e3 = f
        layers.append(Block((Conv(s, 1, bias=True), Relu(), Concat(((Conv(e1, 1, bias=True),),
                                                                     (Conv(e3, 3, padding=1, bias=True),)))), f"fire{fire}"))
        names.append(f"fire{fire}")
        fire += 1
    layers += [Conv(1000, 1, bias=True, name="conv10"), Pool(13, 1, kind="avg", name="avgpool10")]
    names += ["conv10", "avgpool10"]
    printed = {i: Printed(f"{v:,}", v, S_SRC) for i, v in enumerate(SQUEEZE_PRINTED) if v is not None}
    return Architecture("squeezenet", "SqueezeNet 1.0, 227×227", (3, 227, 227), tuple(layers), tuple(names), printed,
                        printed_totals={"params": Printed("1,248,424", 1248424, f"{S_SRC}, total before pruning")},
                        notes=("SqueezeNet counts biases, so these rows do too.",))


R_SRC = "ResNet arXiv:1512.03385v1, Table 1"


def _bottleneck(c_in: int, mid: int, out: int, stride: int, name: str) -> Add:
    main = (Conv(mid, 1, stride), Relu(), Conv(mid, 3, 1, 1), Relu(), Conv(out, 1))
    shortcut = (Conv(out, 1, stride, name="projection 1×1"),) if (stride != 1 or c_in != out) else ()
    return Add((main, shortcut), name)


def resnet50() -> Architecture:
    """ResNet-50 with projection shortcuts where the shape changes (option B) and the stride on the first
    1×1 of each down-sampling block, as in the original paper (papers.json explains the placement)."""
    layers: list[Layer] = [Conv(64, 7, 2, 3, name="conv1"), Pool(3, 2, 1, name="max pool")]
    names = ["conv1 7×7, 64, /2", "3×3 max pool, /2"]
    c = 64
    for stage, (mid, out, repeat, stride) in enumerate([(64, 256, 3, 1), (128, 512, 4, 2), (256, 1024, 6, 2),
                                                         (512, 2048, 3, 2)], start=2):
        blocks = []
        for i in range(repeat):
            blocks.append(_bottleneck(c, mid, out, stride if i == 0 else 1, f"conv{stage}_{i + 1}"))
            c = out
        layers.append(Block(tuple(blocks), f"conv{stage}_x"))
        names.append(f"conv{stage}_x: [1×1 {mid}, 3×3 {mid}, 1×1 {out}] × {repeat}")
    layers += [Pool(7, 1, kind="avg", name="average pool"), Fc(1000, name="fc 1000")]
    names += ["average pool", "1000-d fc"]
    return Architecture("resnet50", "ResNet-50, 224×224", (3, 224, 224), tuple(layers), tuple(names),
                        printed_totals={"macs": Printed("3.8×10⁹ FLOPs", 3.8e9, f"{R_SRC}, FLOPs row",
                                                        "the paper's 'FLOPs' are multiply-adds")},
                        notes=("The paper's 'FLOPs' are multiply-adds (MACs here).",
                               "Stride on the first 1×1 of a block gives 3.86×10⁹ MACs; on the 3×3 (as in later "
                               "implementations) 4.09×10⁹."))


def architecture(name: str, alpha: float = 1.0, resolution: int = 224) -> Architecture:
    builders = {"googlenet": googlenet, "squeezenet": squeezenet, "resnet50": resnet50}
    if name == "mobilenet":
        return mobilenet(alpha, resolution)
    return builders[name]()


ARCHITECTURES = ("googlenet", "mobilenet", "resnet50", "squeezenet")
