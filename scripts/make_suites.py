"""Write layer suites of networks from their architecture tables (no torchvision needed).

    python scripts/make_suites.py [--out datasets/suites]

efficientnet_b0, resnext50_32x4d (conv2d, 224x224 input) and vit_b16 (linear, 197 tokens),
added in session 7; densenet121, convnext_tiny (conv2d) and convnext_tiny_mlp
(convnext_tiny's linear layers), added in session 9, and googlenet, added later in session 9
to test the BLAS thread-grid features designed on densenet121's results; regnet_y_400mf,
squeezenet1_1, shufflenet_v2_x1_0, mobilenet_v3_large (conv2d) and swin_t (linear), added in
session 27; mnasnet1_0, efficientnet_b2 (288x288), alexnet (conv2d) and vit_l16 (linear),
added in session 28. Batch 1, deduplicated by shape like the other suites
(``datasets/suites.py``). These networks were added after the predictors and the planner
were developed on the other suites: benches on them test networks the code has never seen.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any


def _conv(name: str, cin: int, cout: int, h: int, k: int, s: int = 1, g: int = 1,
          pad: int | None = None) -> tuple[str, dict[str, Any]]:
    """A square conv layer at batch 1; ``pad`` defaults to (k - 1) // 2 ("same")."""
    return name, {"in_channels": cin, "out_channels": cout, "height": h, "width": h,
                  "kernel_h": k, "kernel_w": k, "stride": s,
                  "padding": (k - 1) // 2 if pad is None else pad,
                  "dilation": 1, "groups": g, "batch": 1}


#: efficientnet's MBConv stages at width and depth 1.0 (torchvision's bneck_conf table):
#: expand ratio, kernel, stride, in, out, blocks
_EFFICIENTNET = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                 (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                 (6, 3, 1, 192, 320, 1))


def _efficientnet(width: float, depth: float, res: int) -> list[tuple[str, dict[str, Any]]]:
    """torchvision's efficientnet at ``width`` / ``depth`` multipliers and a ``res`` x ``res``
    input: stem, MBConv blocks (expand 1x1, depthwise k x k, squeeze-excitation 1x1 convs
    on the pooled 1x1 map with max(1, in // 4) channels, project 1x1), the head 1x1 to 4x
    the last width. Widths are ``_make_divisible(c * width, 8)``, blocks ceil(n * depth)."""
    table = [(e, k, s, _divisible8(cin * width), _divisible8(cout * width), math.ceil(n * depth))
             for e, k, s, cin, cout, n in _EFFICIENTNET]
    out = [_conv("features.0.0", 3, table[0][3], res, 3, 2)]
    h = (res - 1) // 2 + 1
    for stage, (e, k, s, cin, cout, n) in enumerate(table, start=1):
        for b in range(n):
            i = cin if b == 0 else cout
            stride = s if b == 0 else 1
            exp = i * e
            sq = max(1, i // 4)
            p = f"features.{stage}.{b}.block"
            j = 0
            if e != 1:
                out.append(_conv(f"{p}.0.0", i, exp, h, 1))
                j = 1
            out.append(_conv(f"{p}.{j}.0", exp, exp, h, k, stride, exp))
            h_out = (h + 2 * ((k - 1) // 2) - k) // stride + 1
            out.append(_conv(f"{p}.{j + 1}.fc1", exp, sq, 1, 1))
            out.append(_conv(f"{p}.{j + 1}.fc2", sq, exp, 1, 1))
            out.append(_conv(f"{p}.{j + 2}.0", exp, cout, h_out, 1))
            h = h_out
    last = table[-1][4]
    out.append(_conv("features.8.0", last, 4 * last, h, 1))
    return out


def efficientnet_b0() -> list[tuple[str, dict[str, Any]]]:
    """torchvision efficientnet_b0 (width and depth 1.0) at 224x224."""
    return _efficientnet(1.0, 1.0, 224)


def efficientnet_b2() -> list[tuple[str, dict[str, Any]]]:
    """torchvision efficientnet_b2 (width 1.1, depth 1.2) at 288x288, its weights' input
    size: widths 32 / 16 / 24 / 48 / 88 / 120 / 208 / 352, head 1408."""
    return _efficientnet(1.1, 1.2, 288)


def resnext50_32x4d() -> list[tuple[str, dict[str, Any]]]:
    """torchvision resnext50_32x4d (ResNet-50 v1.5 topology, 3x3 convs in 32 groups of
    width 4 x planes / 64)."""
    out = [_conv("conv1", 3, 64, 224, 7, 2)]
    out[0][1]["padding"] = 3
    h, cin = 56, 64
    for li, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                   (512, 3, 2)], start=1):
        width = planes * 4 // 64 * 32
        for b in range(blocks):
            s = stride if b == 0 else 1
            p = f"layer{li}.{b}"
            out.append(_conv(f"{p}.conv1", cin, width, h, 1))
            out.append(_conv(f"{p}.conv2", width, width, h, 3, s, 32))
            h_out = (h - 1) // s + 1
            out.append(_conv(f"{p}.conv3", width, planes * 4, h_out, 1))
            if b == 0:
                out.append(_conv(f"{p}.downsample.0", cin, planes * 4, h, 1, s))
            h, cin = h_out, planes * 4
    return out


def _vit(layers: int, width: int, mlp: int) -> list[tuple[str, dict[str, int]]]:
    """torchvision's vision transformer's linear layers at 224x224 with 16x16 patches: 196
    patches + the class token, ``layers`` encoder layers (attention in / out projections,
    MLP width -> mlp -> width), the head."""
    out = []
    for i in range(layers):
        p = f"encoder.layers.encoder_layer_{i}"
        out += [(f"{p}.self_attention.in_proj", {"m": 197, "n": 3 * width, "k": width}),
                (f"{p}.self_attention.out_proj", {"m": 197, "n": width, "k": width}),
                (f"{p}.mlp.0", {"m": 197, "n": mlp, "k": width}),
                (f"{p}.mlp.3", {"m": 197, "n": width, "k": mlp})]
    return [*out, ("heads.head", {"m": 1, "n": 1000, "k": width})]


def vit_b16() -> list[tuple[str, dict[str, int]]]:
    """torchvision vit_b_16: 12 layers, width 768, MLP 3072."""
    return _vit(12, 768, 3072)


def vit_l16() -> list[tuple[str, dict[str, int]]]:
    """torchvision vit_l_16: 24 layers, width 1024, MLP 4096."""
    return _vit(24, 1024, 4096)


def densenet121() -> list[tuple[str, dict[str, Any]]]:
    """torchvision densenet121 (growth 32, bn_size 4, blocks 6 / 12 / 24 / 16): stem 7x7,
    per dense layer a 1x1 conv (in -> 128) and a 3x3 conv (128 -> 32), a 1x1 transition
    halving the channels between blocks."""
    out = [_conv("features.conv0", 3, 64, 224, 7, 2)]
    h, c = 56, 64
    for bi, n in enumerate((6, 12, 24, 16), start=1):
        for j in range(1, n + 1):
            p = f"features.denseblock{bi}.denselayer{j}"
            out.append(_conv(f"{p}.conv1", c + 32 * (j - 1), 128, h, 1))
            out.append(_conv(f"{p}.conv2", 128, 32, h, 3))
        c += 32 * n
        if bi < 4:
            out.append(_conv(f"features.transition{bi}.conv", c, c // 2, h, 1))
            h, c = h // 2, c // 2  # the 2x2 average pool
    return out


#: convnext_tiny's stages: (channels, blocks, spatial size)
_CONVNEXT_TINY = ((96, 3, 56), (192, 3, 28), (384, 9, 14), (768, 3, 7))


def convnext_tiny() -> list[tuple[str, dict[str, Any]]]:
    """torchvision convnext_tiny's conv layers: the 4x4 stride-4 stem, per block a 7x7
    depthwise conv, 2x2 stride-2 downsampling between stages (unpadded)."""
    out = [_conv("features.0.0", 3, 96, 224, 4, 4, pad=0)]
    for si, (c, n, h) in enumerate(_CONVNEXT_TINY):
        if si:
            out.append(_conv(f"features.{2 * si}.1", c // 2, c, 2 * h, 2, 2, pad=0))
        for b in range(n):
            out.append(_conv(f"features.{2 * si + 1}.{b}.block.0", c, c, h, 7, g=c))
    return out


def convnext_tiny_mlp() -> list[tuple[str, dict[str, int]]]:
    """torchvision convnext_tiny's linear layers: per block the pointwise MLP (C -> 4C ->
    C over the H x W tokens), and the head."""
    out = []
    for si, (c, n, h) in enumerate(_CONVNEXT_TINY):
        for b in range(n):
            p = f"features.{2 * si + 1}.{b}.block"
            out += [(f"{p}.3", {"m": h * h, "n": 4 * c, "k": c}),
                    (f"{p}.5", {"m": h * h, "n": c, "k": 4 * c})]
    return [*out, ("classifier.2", {"m": 1, "n": 1000, "k": 768})]


#: googlenet's inception blocks: (name, in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool
#: projection, spatial size); torchvision's "5x5" branch is a 3x3 conv
_INCEPTION = (("3a", 192, 64, 96, 128, 16, 32, 32, 28), ("3b", 256, 128, 128, 192, 32, 96, 64, 28),
              ("4a", 480, 192, 96, 208, 16, 48, 64, 14), ("4b", 512, 160, 112, 224, 24, 64, 64, 14),
              ("4c", 512, 128, 128, 256, 24, 64, 64, 14), ("4d", 512, 112, 144, 288, 32, 64, 64, 14),
              ("4e", 528, 256, 160, 320, 32, 128, 128, 14),
              ("5a", 832, 256, 160, 320, 32, 128, 128, 7), ("5b", 832, 384, 192, 384, 48, 128, 128, 7))


def googlenet() -> list[tuple[str, dict[str, Any]]]:
    """torchvision googlenet (Inception v1): stem (7x7, 1x1, 3x3), nine inception blocks of
    four branches (1x1; 1x1 -> 3x3; 1x1 -> 3x3; pool -> 1x1)."""
    out = [_conv("conv1.conv", 3, 64, 224, 7, 2), _conv("conv2.conv", 64, 64, 56, 1),
           _conv("conv3.conv", 64, 192, 56, 3)]
    for name, cin, c1, r3, c3, r5, c5, pp, h in _INCEPTION:
        p = f"inception{name}"
        out += [_conv(f"{p}.branch1.conv", cin, c1, h, 1),
                _conv(f"{p}.branch2.0.conv", cin, r3, h, 1), _conv(f"{p}.branch2.1.conv", r3, c3, h, 3),
                _conv(f"{p}.branch3.0.conv", cin, r5, h, 1), _conv(f"{p}.branch3.1.conv", r5, c5, h, 3),
                _conv(f"{p}.branch4.1.conv", cin, pp, h, 1)]
    return out


def squeezenet1_1() -> list[tuple[str, dict[str, Any]]]:
    """torchvision squeezenet1_1: 3x3 stride-2 stem (unpadded), eight fire modules (1x1
    squeeze, then 1x1 and 3x3 expands side by side) between ceil-mode 3x3 stride-2 max
    pools (111 -> 55 -> 27 -> 13), the 1x1 classifier conv."""
    fires = ((3, 64, 16, 64, 55), (4, 128, 16, 64, 55), (6, 128, 32, 128, 27),
             (7, 256, 32, 128, 27), (9, 256, 48, 192, 13), (10, 384, 48, 192, 13),
             (11, 384, 64, 256, 13), (12, 512, 64, 256, 13))
    out = [_conv("features.0", 3, 64, 224, 3, 2, pad=0)]
    for i, cin, sq, ex, h in fires:
        out += [_conv(f"features.{i}.squeeze", cin, sq, h, 1),
                _conv(f"features.{i}.expand1x1", sq, ex, h, 1),
                _conv(f"features.{i}.expand3x3", sq, ex, h, 3)]
    return [*out, _conv("classifier.1", 512, 1000, 13, 1)]


def shufflenet_v2_x1_0() -> list[tuple[str, dict[str, Any]]]:
    """torchvision shufflenet_v2_x1_0 (stage widths 116 / 232 / 464, 4 / 8 / 4 units): per
    unit 1x1 -> 3x3 depthwise -> 1x1 on half the channels; a stride-2 unit also runs a
    depthwise stride-2 3x3 -> 1x1 branch on its whole input; the 1x1 conv5 to 1024."""
    out = [_conv("conv1.0", 3, 24, 224, 3, 2)]
    h, cin = 56, 24  # after the 3x3 stride-2 max pool
    for si, (cout, units) in enumerate(((116, 4), (232, 8), (464, 4)), start=2):
        half = cout // 2
        for u in range(units):
            p = f"stage{si}.{u}"
            if u == 0:
                out += [_conv(f"{p}.branch1.0", cin, cin, h, 3, 2, cin),
                        _conv(f"{p}.branch1.2", cin, half, h // 2, 1),
                        _conv(f"{p}.branch2.0", cin, half, h, 1),
                        _conv(f"{p}.branch2.3", half, half, h, 3, 2, half)]
                h //= 2
            else:
                out += [_conv(f"{p}.branch2.0", half, half, h, 1),
                        _conv(f"{p}.branch2.3", half, half, h, 3, 1, half)]
            out.append(_conv(f"{p}.branch2.5", half, half, h, 1))
        cin = cout
    return [*out, _conv("conv5.0", 464, 1024, 7, 1)]


def regnet_y_400mf() -> list[tuple[str, dict[str, Any]]]:
    """torchvision regnet_y_400mf (widths 48 / 104 / 208 / 440, depths 1 / 3 / 6 / 6, group
    width 8, squeeze-excitation 0.25 of the block's input width): per block 1x1, 3x3 in
    groups of 8 channels (stride 2 in a stage's first block), SE 1x1s on the pooled map,
    1x1; a stage's first block has a 1x1 stride-2 projection."""
    out = [_conv("stem.0", 3, 32, 224, 3, 2)]
    h, cin = 112, 32
    for si, (w, depth) in enumerate(((48, 1), (104, 3), (208, 6), (440, 6)), start=1):
        for b in range(depth):
            p = f"trunk_output.block{si}.block{si}-{b}"
            s = 2 if b == 0 else 1
            se = int(round(0.25 * cin))
            if b == 0:
                out.append(_conv(f"{p}.proj.0", cin, w, h, 1, 2))
            out += [_conv(f"{p}.f.a.0", cin, w, h, 1),
                    _conv(f"{p}.f.b.0", w, w, h, 3, s, w // 8),
                    _conv(f"{p}.f.se.fc1", w, se, 1, 1), _conv(f"{p}.f.se.fc2", se, w, 1, 1)]
            h = (h - 1) // s + 1
            out.append(_conv(f"{p}.f.c.0", w, w, h, 1))
            cin = w
    return out


#: mobilenet_v3_large's inverted residual blocks: (in, kernel, expanded, out, SE, stride)
_MNV3_LARGE = ((16, 3, 16, 16, False, 1), (16, 3, 64, 24, False, 2), (24, 3, 72, 24, False, 1),
               (24, 5, 72, 40, True, 2), (40, 5, 120, 40, True, 1), (40, 5, 120, 40, True, 1),
               (40, 3, 240, 80, False, 2), (80, 3, 200, 80, False, 1),
               (80, 3, 184, 80, False, 1), (80, 3, 184, 80, False, 1),
               (80, 3, 480, 112, True, 1), (112, 3, 672, 112, True, 1),
               (112, 5, 672, 160, True, 2), (160, 5, 960, 160, True, 1),
               (160, 5, 960, 160, True, 1))


def _divisible8(v: float) -> int:
    """torchvision's ``_make_divisible(v, 8)``: nearest multiple of 8, not below 90 % of v."""
    new = max(8, int(v + 4) // 8 * 8)
    return new + 8 if new < 0.9 * v else new


def mobilenet_v3_large() -> list[tuple[str, dict[str, Any]]]:
    """torchvision mobilenet_v3_large: 3x3 stride-2 stem, 15 inverted residual blocks
    (1x1 expand unless the width stays, 3x3 or 5x5 depthwise, SE 1x1s to
    ``_make_divisible(expanded / 4, 8)`` channels on the pooled map, 1x1 project), the
    1x1 conv to 960."""
    out = [_conv("features.0.0", 3, 16, 224, 3, 2)]
    h = 112
    for i, (cin, k, exp, cout, se, s) in enumerate(_MNV3_LARGE, start=1):
        p, j = f"features.{i}.block", 0
        if exp != cin:
            out.append(_conv(f"{p}.0.0", cin, exp, h, 1))
            j = 1
        out.append(_conv(f"{p}.{j}.0", exp, exp, h, k, s, exp))
        h = (h - 1) // s + 1
        if se:
            sq = _divisible8(exp // 4)
            j += 1
            out += [_conv(f"{p}.{j}.fc1", exp, sq, 1, 1), _conv(f"{p}.{j}.fc2", sq, exp, 1, 1)]
        out.append(_conv(f"{p}.{j + 1}.0", exp, cout, h, 1))
    return [*out, _conv("features.16.0", 160, 960, 7, 1)]


def swin_t() -> list[tuple[str, dict[str, int]]]:
    """torchvision swin_t's linear layers at 224x224 (patch 4, window 7, C = 96, depths
    2 / 2 / 6 / 2): per block the attention qkv (C -> 3C) and projection, the MLP (C -> 4C
    -> C) over all H x W tokens, a patch merging (4C -> 2C at a quarter of the tokens)
    between stages, the head."""
    out = []
    for si, (c, depth, h) in enumerate(((96, 2, 56), (192, 2, 28), (384, 6, 14), (768, 2, 7))):
        m = h * h
        for b in range(depth):
            p = f"features.{2 * si + 1}.{b}"
            out += [(f"{p}.attn.qkv", {"m": m, "n": 3 * c, "k": c}),
                    (f"{p}.attn.proj", {"m": m, "n": c, "k": c}),
                    (f"{p}.mlp.0", {"m": m, "n": 4 * c, "k": c}),
                    (f"{p}.mlp.3", {"m": m, "n": c, "k": 4 * c})]
        if si < 3:
            out.append((f"features.{2 * si + 2}.reduction", {"m": m // 4, "n": 2 * c, "k": 4 * c}))
    return [*out, ("head", {"m": 1, "n": 1000, "k": 768})]


def mnasnet1_0() -> list[tuple[str, dict[str, Any]]]:
    """torchvision mnasnet1_0: 3x3 stride-2 stem, a depthwise-separable block (3x3
    depthwise, 1x1 to 16), six stacks of inverted residuals without squeeze-excitation (1x1
    expand, k x k depthwise, 1x1 project), the 1x1 conv to 1280."""
    out = [_conv("layers.0", 3, 32, 224, 3, 2), _conv("layers.3", 32, 32, 112, 3, 1, 32),
           _conv("layers.6", 32, 16, 112, 1)]
    h, cin = 112, 16
    # (out, kernel, stride, expansion, repeats) of the stacks layers.8 ... layers.13
    for li, (cout, k, s, e, n) in enumerate(((24, 3, 2, 3, 3), (40, 5, 2, 3, 3),
                                             (80, 5, 2, 6, 3), (96, 3, 1, 6, 2),
                                             (192, 5, 2, 6, 4), (320, 3, 1, 6, 1)), start=8):
        for b in range(n):
            i, stride = (cin, s) if b == 0 else (cout, 1)
            p = f"layers.{li}.{b}.layers"
            out += [_conv(f"{p}.0", i, i * e, h, 1), _conv(f"{p}.3", i * e, i * e, h, k, stride,
                                                           i * e)]
            h = (h + 2 * (k // 2) - k) // stride + 1
            out.append(_conv(f"{p}.6", i * e, cout, h, 1))
        cin = cout
    return [*out, _conv("layers.14", 320, 1280, 7, 1)]


def alexnet() -> list[tuple[str, dict[str, Any]]]:
    """torchvision alexnet's conv layers: 11x11 stride-4 (224 -> 55), 5x5 (27x27 after a 3x3
    stride-2 max pool), three 3x3 at 13x13."""
    return [_conv("features.0", 3, 64, 224, 11, 4, pad=2), _conv("features.3", 64, 192, 27, 5),
            _conv("features.6", 192, 384, 13, 3), _conv("features.8", 384, 256, 13, 3),
            _conv("features.10", 256, 256, 13, 3)]


SUITES = {
    "efficientnet_b0": ("conv2d", efficientnet_b0,
                        "torchvision efficientnet_b0 (Tan & Le 2019), every conv layer at "
                        "224x224 input"),
    "resnext50_32x4d": ("conv2d", resnext50_32x4d,
                        "torchvision resnext50_32x4d (Xie et al. 2017), every conv layer at "
                        "224x224 input"),
    "vit_b16": ("linear", vit_b16,
                "torchvision vit_b_16 (Dosovitskiy et al. 2021), every linear layer at "
                "224x224 input (197 tokens)"),
    "densenet121": ("conv2d", densenet121,
                    "torchvision densenet121 (Huang et al. 2017), every conv layer at "
                    "224x224 input"),
    "convnext_tiny": ("conv2d", convnext_tiny,
                      "torchvision convnext_tiny (Liu et al. 2022), every conv layer at "
                      "224x224 input"),
    "convnext_tiny_mlp": ("linear", convnext_tiny_mlp,
                          "torchvision convnext_tiny (Liu et al. 2022), every linear layer "
                          "(the blocks' pointwise MLPs, the head) at 224x224 input"),
    "googlenet": ("conv2d", googlenet,
                  "torchvision googlenet (Szegedy et al. 2015), every conv layer at 224x224 "
                  "input"),
    "squeezenet1_1": ("conv2d", squeezenet1_1,
                      "torchvision squeezenet1_1 (Iandola et al. 2016), every conv layer at "
                      "224x224 input"),
    "shufflenet_v2_x1_0": ("conv2d", shufflenet_v2_x1_0,
                           "torchvision shufflenet_v2_x1_0 (Ma et al. 2018), every conv layer "
                           "at 224x224 input"),
    "regnet_y_400mf": ("conv2d", regnet_y_400mf,
                       "torchvision regnet_y_400mf (Radosavovic et al. 2020), every conv "
                       "layer at 224x224 input"),
    "mobilenet_v3_large": ("conv2d", mobilenet_v3_large,
                           "torchvision mobilenet_v3_large (Howard et al. 2019), every conv "
                           "layer at 224x224 input"),
    "swin_t": ("linear", swin_t,
               "torchvision swin_t (Liu et al. 2021), every linear layer at 224x224 input "
               "(the blocks' attention projections and MLPs over all tokens, the patch "
               "mergings, the head)"),
    "mnasnet1_0": ("conv2d", mnasnet1_0,
                   "torchvision mnasnet1_0 (Tan et al. 2019), every conv layer at 224x224 "
                   "input"),
    "efficientnet_b2": ("conv2d", efficientnet_b2,
                        "torchvision efficientnet_b2 (Tan & Le 2019), every conv layer at "
                        "288x288 input"),
    "alexnet": ("conv2d", alexnet,
                "torchvision alexnet (Krizhevsky et al. 2012), every conv layer at 224x224 "
                "input"),
    "vit_l16": ("linear", vit_l16,
                "torchvision vit_l_16 (Dosovitskiy et al. 2021), every linear layer at "
                "224x224 input (197 tokens)"),
}


def suite(name: str) -> dict[str, Any]:
    """The suite's JSON object: layers deduplicated by shape, first name, counts."""
    op, build, what = SUITES[name]
    layers = build()
    merged: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
    for lname, shape in layers:
        key = tuple(sorted(shape.items()))
        if key in merged:
            merged[key]["count"] += 1
        else:
            merged[key] = {"name": lname, "count": 1, **shape}
    return {"name": name, "op": op,
            "source": f"{what}, batch 1, deduplicated by shape ({len(layers)} layers); name "
                      f"= first occurrence, count = occurrences; written by "
                      f"scripts/make_suites.py from the architecture's table",
            "layers": list(merged.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "datasets"
                                         / "suites"))
    out = Path(ap.parse_args().out)
    for name in SUITES:
        data = suite(name)
        text = json.dumps({k: v for k, v in data.items() if k != "layers"}, indent=2)[:-2]
        rows = ",\n".join("    " + json.dumps(r) for r in data["layers"])
        (out / f"{name}.json").write_text(f'{text},\n  "layers": [\n{rows}\n  ]\n}}\n')
        print(f"{name}: {len(data['layers'])} shapes")


if __name__ == "__main__":
    main()
