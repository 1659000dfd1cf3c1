"""The pages' one glossary: each term a learner meets, defined once in plain words.

Templates show a term with the ``term`` macro of ``templates/_glossary.html`` (a link to its entry on
``/glossary`` that also shows the definition on hover and keyboard focus); ``/glossary`` lists them all.
An unknown key is an error when the template renders, so a page cannot point at a missing entry.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    key: str
    name: str
    definition: str


_TERMS = [
    Term("channel", "channel", "One of the stacked 2-D maps of a tensor: red, green and blue for a photo, or one "
         "feature map inside a network. A tensor of shape C×H×W has C channels."),
    Term("kernel", "kernel (filter)", "The small grid of weights a convolution slides over its input. A filter "
         "of a layer with C_in input channels holds one k×k slice per input channel."),
    Term("convolution", "convolution", "Slide a window over the input; at each position multiply the window's "
         "values by the weights and add them all up (over the window and over every input channel), plus "
         "the bias. Like PyTorch, convlens computes cross-correlation: the kernel is not flipped."),
    Term("cross_correlation", "cross-correlation", "A convolution whose kernel is not rotated. Deep-learning "
         "libraries call this a convolution; the textbook convolution rotates the kernel 180° first "
         "(the \"flip\" option)."),
    Term("stride", "stride", "How many pixels the window moves between two output values. Stride 2 skips every "
         "other position and halves the output's height and width."),
    Term("padding", "padding", "Zeros added around the input's border so the window can also centre on edge "
         "pixels. Padding 1 on a 3×3 kernel keeps the output the same size as the input; \"same\" picks it for you."),
    Term("dilation", "dilation", "Gaps between the kernel's taps. Dilation 2 spreads a 3×3 kernel over a 5×5 "
         "area with the same 9 weights, so it sees further without more weights."),
    Term("groups", "groups", "Split the input channels and the filters into this many groups; each filter "
         "reads only the input channels of its own group. Groups = 1 is an ordinary convolution."),
    Term("depthwise", "depthwise convolution", "A convolution with groups equal to the number of input "
         "channels: each channel is filtered on its own and channels are never mixed. MobileNet follows it "
         "with a 1×1 (pointwise) convolution to mix them."),
    Term("pointwise", "1×1 (pointwise) convolution", "A convolution whose kernel is one pixel. It looks at no "
         "neighbours: each output pixel is a weighted sum of the same pixel's input channels, the same small "
         "fully connected layer applied at every pixel."),
    Term("bias", "bias", "One number per output channel added after the weighted sum."),
    Term("relu", "ReLU", "max(0, x): negative values become 0. A 1×1 convolution followed by ReLU is a "
         "neuron at every pixel."),
    Term("mac", "MAC", "One multiply-accumulate: a multiplication and the addition that accumulates it. "
         "convlens counts MACs; FLOPs are 2 × MACs. Bias additions are counted separately."),
    Term("flops", "FLOPs", "Floating-point operations: 2 per MAC (one multiply, one add). Some tools call MACs "
         "FLOPs; convlens never does."),
    Term("params", "parameters", "The numbers a layer learns: its weights and biases. A k×k convolution from "
         "C_in to C_out channels has C_out·(C_in/groups)·k·k weights."),
    Term("kaiming", "Kaiming normal", "Random weights drawn from a normal distribution with standard deviation "
         "√(2 / fan-in), the usual start for a layer followed by ReLU (He et al., 2015). fan-in is "
         "(C_in/groups)·k·k."),
    Term("bt601", "BT.601", "The ITU-R BT.601 standard's weights for turning RGB into brightness: "
         "Y = 0.299·R + 0.587·G + 0.114·B. As a 1×1 convolution it is one filter with three weights."),
    Term("nin", "Network in Network (NiN)", "Lin, Chen & Yan (2013): stack 1×1 convolutions with ReLU after a "
         "convolution, so that a small multi-layer perceptron runs at every pixel."),
    Term("fc", "fully connected layer", "Every output is a weighted sum of every input value. On a C×H×W input it "
         "equals a convolution whose kernel covers the whole H×W; slid over a larger input it gives a map of "
         "scores."),
    Term("pooling", "pooling", "Summarise each window by its maximum (max pooling) or its mean (average pooling), "
         "channel by channel. Pooling shrinks height and width and keeps the number of channels."),
    Term("bottleneck", "bottleneck", "A 1×1 convolution that reduces the channels before an expensive k×k "
         "convolution (and often another that restores them after), as in Inception and ResNet."),
    Term("arithmetic_intensity", "arithmetic intensity", "MACs per byte moved to and from memory. A layer with "
         "low intensity waits on memory rather than on arithmetic, so its time is not proportional to its MACs."),
    Term("receptive_field", "receptive field", "The region of the input that can affect one output value. A "
         "1×1 convolution does not grow it; a k×k convolution, pooling and strides do."),
    Term("im2col", "im2col", "A way to compute a convolution as one matrix product: copy every window into a "
         "column, then multiply by the weights arranged as a matrix."),
    Term("gemm", "GEMM", "General matrix multiplication, the routine (in BLAS libraries) that computes most "
         "convolutions once they are lowered to a matrix product."),
    Term("feature_map", "feature map", "One output channel of a layer: the map of how strongly one filter "
         "responds at each position."),
    # issue 15: transposed convolution and receptive fields
    Term("transposed_convolution", "transposed convolution", "A layer that makes its output larger than its "
         "input: each input pixel stamps the kernel, scaled by its value, onto the output, stride pixels apart, and "
         "overlapping stamps add up. It is the same as a direct convolution over the input with stride − 1 zeros "
         "inserted between pixels and the kernel rotated 180°. Sometimes wrongly called deconvolution."),
    Term("output_padding", "output padding", "Extra rows and columns a transposed convolution adds at the bottom "
         "and right. A stride-s convolution maps up to s input sizes to the same output size; output padding picks "
         "which of them the transposed convolution gives back. It must be smaller than the stride or the dilation."),
    Term("jump", "jump (effective stride)", "How many input pixels apart two neighbouring outputs of a layer "
         "are: the product of the strides of every layer up to it. Pooling and strided layers multiply it."),
]

TERMS: dict[str, Term] = {t.key: t for t in _TERMS}
