"""Write layer suites of networks from their architecture tables (no torchvision needed).

    python scripts/make_suites.py [--out datasets/suites]

efficientnet_b0, resnext50_32x4d (conv2d, 224x224 input) and vit_b16 (linear, 197 tokens),
added in session 7; densenet121, convnext_tiny (conv2d) and convnext_tiny_mlp
(convnext_tiny's linear layers), added in session 9, and googlenet, added later in session 9
to test the BLAS thread-grid features designed on densenet121's results; regnet_y_400mf,
squeezenet1_1, shufflenet_v2_x1_0, mobilenet_v3_large (conv2d) and swin_t (linear), added in
session 27; mnasnet1_0, efficientnet_b2 (288x288), alexnet (conv2d) and vit_l16 (linear),
added in session 28; inception_v3 (299x299: 1x7, 7x1, 1x3 and 3x1 convs, a kernel
shape no profiler dataset holds), mobilenet_v3_small, efficientnet_v2_s (384x384,
Fused-MBConv) (conv2d), tinyllama_decode and tinyllama_prefill (linear, m = 1 and 512),
added in session 31; qwen25_05b_prefill (linear, a 128-token prompt: a vocabulary head of
74 MiB output) and llama32_1b_prefill (linear, a 64-token prompt: 31 MiB), added in
session 32; squeezenet1_0, mobilenet_v1, unet (conv2d), bert_large, whisper_tiny_encoder
and smollm_135m_decode (linear), efficientnet_b1 (240x240), wide_resnet50_2 (conv2d),
deit_small and gpt2_medium_decode (linear), added in session 40; xception (299x299),
yolov8n (640x640) (conv2d), vit_b32 and t5_small_encoder (linear), regnet_x_800mf (conv2d) and
phi2_decode (linear), added in session 44. Batch 1, deduplicated by
shape like the other suites (``datasets/suites.py``). These networks were added after the
predictors and the planner were developed on the other suites: benches on them test
networks the code has never seen.

``linear_large`` is not a network: a seeded sample of linear shapes with 12-256 MiB
outputs (prompt-sized LLM layers), a profiling probe of the GPU's transfers at sizes the
random shapes of the sweeps (``datasets/suites.py``: at most 20 GFLOP) leave out.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from latpred.datasets.suites import merge_layers, suite_text


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


def _resnet50_v15(width_of: Any, groups: int) -> list[tuple[str, dict[str, Any]]]:
    """torchvision's ResNet-50 v1.5 topology (the stride on the 3x3 conv): bottlenecks of
    ``width_of(planes)`` channels inside, their 3x3 conv in ``groups`` groups."""
    out = [_conv("conv1", 3, 64, 224, 7, 2)]
    h, cin = 56, 64
    for li, (planes, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                   (512, 3, 2)], start=1):
        width = width_of(planes)
        for b in range(blocks):
            s = stride if b == 0 else 1
            p = f"layer{li}.{b}"
            out.append(_conv(f"{p}.conv1", cin, width, h, 1))
            out.append(_conv(f"{p}.conv2", width, width, h, 3, s, groups))
            h_out = (h - 1) // s + 1
            out.append(_conv(f"{p}.conv3", width, planes * 4, h_out, 1))
            if b == 0:
                out.append(_conv(f"{p}.downsample.0", cin, planes * 4, h, 1, s))
            h, cin = h_out, planes * 4
    return out


def resnext50_32x4d() -> list[tuple[str, dict[str, Any]]]:
    """torchvision resnext50_32x4d (ResNet-50 v1.5 topology, 3x3 convs in 32 groups of
    width 4 x planes / 64)."""
    return _resnet50_v15(lambda planes: planes * 4 // 64 * 32, 32)


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


def _squeezenet(stem: tuple[str, dict[str, Any]], fires: tuple[tuple[int, ...], ...]
                ) -> list[tuple[str, dict[str, Any]]]:
    """torchvision's squeezenet: the stem, fire modules (index, in, squeeze, expand, size:
    a 1x1 squeeze, then 1x1 and 3x3 expands side by side), the 1x1 classifier conv at 13."""
    out = [stem]
    for i, cin, sq, ex, h in fires:
        out += [_conv(f"features.{i}.squeeze", cin, sq, h, 1),
                _conv(f"features.{i}.expand1x1", sq, ex, h, 1),
                _conv(f"features.{i}.expand3x3", sq, ex, h, 3)]
    return [*out, _conv("classifier.1", 512, 1000, 13, 1)]


def squeezenet1_1() -> list[tuple[str, dict[str, Any]]]:
    """torchvision squeezenet1_1: 3x3 stride-2 stem (unpadded), eight fire modules (1x1
    squeeze, then 1x1 and 3x3 expands side by side) between ceil-mode 3x3 stride-2 max
    pools (111 -> 55 -> 27 -> 13), the 1x1 classifier conv."""
    return _squeezenet(_conv("features.0", 3, 64, 224, 3, 2, pad=0),
                       ((3, 64, 16, 64, 55), (4, 128, 16, 64, 55), (6, 128, 32, 128, 27),
                        (7, 256, 32, 128, 27), (9, 256, 48, 192, 13), (10, 384, 48, 192, 13),
                        (11, 384, 64, 256, 13), (12, 512, 64, 256, 13)))


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


def _mobilenet_v3(table: tuple, last: int) -> list[tuple[str, dict[str, Any]]]:
    """torchvision's mobilenet_v3 of ``table``'s inverted residual blocks (in, kernel,
    expanded, out, SE, stride) at 224x224: the 3x3 stride-2 stem to 16, per block a 1x1
    expand unless the width stays, the k x k depthwise, SE 1x1s to
    ``_make_divisible(expanded / 4, 8)`` channels on the pooled map, the 1x1 project; then
    the 1x1 conv to ``last``."""
    out = [_conv("features.0.0", 3, 16, 224, 3, 2)]
    h = 112
    for i, (cin, k, exp, cout, se, s) in enumerate(table, start=1):
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
    return [*out, _conv(f"features.{len(table) + 1}.0", table[-1][3], last, h, 1)]


def mobilenet_v3_large() -> list[tuple[str, dict[str, Any]]]:
    """torchvision mobilenet_v3_large: 15 inverted residual blocks, the 1x1 conv to 960."""
    return _mobilenet_v3(_MNV3_LARGE, 960)


#: mobilenet_v3_small's blocks, as _MNV3_LARGE
_MNV3_SMALL = ((16, 3, 16, 16, True, 2), (16, 3, 72, 24, False, 2), (24, 3, 88, 24, False, 1),
               (24, 5, 96, 40, True, 2), (40, 5, 240, 40, True, 1), (40, 5, 240, 40, True, 1),
               (40, 5, 120, 48, True, 1), (48, 5, 144, 48, True, 1),
               (48, 5, 288, 96, True, 2), (96, 5, 576, 96, True, 1), (96, 5, 576, 96, True, 1))


def mobilenet_v3_small() -> list[tuple[str, dict[str, Any]]]:
    """torchvision mobilenet_v3_small: 11 inverted residual blocks, the 1x1 conv to 576."""
    return _mobilenet_v3(_MNV3_SMALL, 576)


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


def _conv_1d(name: str, cin: int, cout: int, h: int, kh: int, kw: int
             ) -> tuple[str, dict[str, Any]]:
    """A 1 x k or k x 1 conv padded in its long dimension only (k // 2 on each side, "same"
    output, batch 1) as latpred's ConvLayer, which pads both dimensions alike, writes it:
    the same conv, unpadded, over the input padded beforehand in that dimension (the same
    output, FLOPs and weights; the zeros read as input instead of skipped)."""
    name, shape = _conv(name, cin, cout, h, 1)
    shape.update(height=h + kh - 1, width=h + kw - 1, kernel_h=kh, kernel_w=kw)
    return name, shape


def _inception_c(p: str, cin: int, c7: int, h: int) -> list[tuple[str, dict[str, Any]]]:
    """Inception v3's InceptionC block (17x17): 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> 7x1 -> 1x7
    -> 7x1 -> 1x7; pool -> 1x1."""
    return [_conv(f"{p}.branch1x1.conv", cin, 192, h, 1),
            _conv(f"{p}.branch7x7_1.conv", cin, c7, h, 1),
            _conv_1d(f"{p}.branch7x7_2.conv", c7, c7, h, 1, 7),
            _conv_1d(f"{p}.branch7x7_3.conv", c7, 192, h, 7, 1),
            _conv(f"{p}.branch7x7dbl_1.conv", cin, c7, h, 1),
            _conv_1d(f"{p}.branch7x7dbl_2.conv", c7, c7, h, 7, 1),
            _conv_1d(f"{p}.branch7x7dbl_3.conv", c7, c7, h, 1, 7),
            _conv_1d(f"{p}.branch7x7dbl_4.conv", c7, c7, h, 7, 1),
            _conv_1d(f"{p}.branch7x7dbl_5.conv", c7, 192, h, 1, 7),
            _conv(f"{p}.branch_pool.conv", cin, 192, h, 1)]


def _inception_e(p: str, cin: int, h: int) -> list[tuple[str, dict[str, Any]]]:
    """Inception v3's InceptionE block (8x8): 1x1; 1x1 -> (1x3, 3x1); 1x1 -> 3x3 -> (1x3,
    3x1); pool -> 1x1."""
    return [_conv(f"{p}.branch1x1.conv", cin, 320, h, 1),
            _conv(f"{p}.branch3x3_1.conv", cin, 384, h, 1),
            _conv_1d(f"{p}.branch3x3_2a.conv", 384, 384, h, 1, 3),
            _conv_1d(f"{p}.branch3x3_2b.conv", 384, 384, h, 3, 1),
            _conv(f"{p}.branch3x3dbl_1.conv", cin, 448, h, 1),
            _conv(f"{p}.branch3x3dbl_2.conv", 448, 384, h, 3),
            _conv_1d(f"{p}.branch3x3dbl_3a.conv", 384, 384, h, 1, 3),
            _conv_1d(f"{p}.branch3x3dbl_3b.conv", 384, 384, h, 3, 1),
            _conv(f"{p}.branch_pool.conv", cin, 192, h, 1)]


def inception_v3() -> list[tuple[str, dict[str, Any]]]:
    """torchvision inception_v3 at 299x299, eval mode (no auxiliary classifier): the
    unpadded stem (3x3 stride 2, 3x3, padded 3x3, 1x1, 3x3; max pools to 73 and 35), three
    InceptionA blocks at 35x35 (1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; pool -> 1x1), the
    InceptionB reduction to 17x17, four InceptionC blocks (7x7 factored into 1x7 and 7x1),
    the InceptionD reduction to 8x8, two InceptionE blocks (1x3 and 3x1 side by side). Its
    1 x k and k x 1 convs, padded in one dimension only, as ``_conv_1d`` writes them."""
    out = [_conv("Conv2d_1a_3x3.conv", 3, 32, 299, 3, 2, pad=0),
           _conv("Conv2d_2a_3x3.conv", 32, 32, 149, 3, pad=0),
           _conv("Conv2d_2b_3x3.conv", 32, 64, 147, 3),
           _conv("Conv2d_3b_1x1.conv", 64, 80, 73, 1),
           _conv("Conv2d_4a_3x3.conv", 80, 192, 73, 3, pad=0)]
    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        out += [_conv(f"{name}.branch1x1.conv", cin, 64, 35, 1),
                _conv(f"{name}.branch5x5_1.conv", cin, 48, 35, 1),
                _conv(f"{name}.branch5x5_2.conv", 48, 64, 35, 5),
                _conv(f"{name}.branch3x3dbl_1.conv", cin, 64, 35, 1),
                _conv(f"{name}.branch3x3dbl_2.conv", 64, 96, 35, 3),
                _conv(f"{name}.branch3x3dbl_3.conv", 96, 96, 35, 3),
                _conv(f"{name}.branch_pool.conv", cin, pool, 35, 1)]
    out += [_conv("Mixed_6a.branch3x3.conv", 288, 384, 35, 3, 2, pad=0),
            _conv("Mixed_6a.branch3x3dbl_1.conv", 288, 64, 35, 1),
            _conv("Mixed_6a.branch3x3dbl_2.conv", 64, 96, 35, 3),
            _conv("Mixed_6a.branch3x3dbl_3.conv", 96, 96, 35, 3, 2, pad=0)]
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        out += _inception_c(name, 768, c7, 17)
    out += [_conv("Mixed_7a.branch3x3_1.conv", 768, 192, 17, 1),
            _conv("Mixed_7a.branch3x3_2.conv", 192, 320, 17, 3, 2, pad=0),
            _conv("Mixed_7a.branch7x7x3_1.conv", 768, 192, 17, 1),
            _conv_1d("Mixed_7a.branch7x7x3_2.conv", 192, 192, 17, 1, 7),
            _conv_1d("Mixed_7a.branch7x7x3_3.conv", 192, 192, 17, 7, 1),
            _conv("Mixed_7a.branch7x7x3_4.conv", 192, 192, 17, 3, 2, pad=0)]
    return out + _inception_e("Mixed_7b", 1280, 8) + _inception_e("Mixed_7c", 2048, 8)


#: efficientnet_v2_s's stages (torchvision): fused or not, expand ratio, kernel, stride, in,
#: out, blocks
_EFFICIENTNET_V2_S = ((True, 1, 3, 1, 24, 24, 2), (True, 4, 3, 2, 24, 48, 4),
                      (True, 4, 3, 2, 48, 64, 4), (False, 4, 3, 2, 64, 128, 6),
                      (False, 6, 3, 1, 128, 160, 9), (False, 6, 3, 2, 160, 256, 15))


def efficientnet_v2_s() -> list[tuple[str, dict[str, Any]]]:
    """torchvision efficientnet_v2_s at 384x384, its weights' input size: the 3x3 stride-2
    stem to 24; Fused-MBConv stages (a k x k conv to the expanded width, then a 1x1
    project; a single k x k conv where the ratio is 1), MBConv stages (1x1 expand, k x k
    depthwise, squeeze-excitation 1x1s to max(1, in // 4) channels on the pooled map, 1x1
    project); the 1x1 head to 1280."""
    out = [_conv("features.0.0", 3, 24, 384, 3, 2)]
    h = 192
    for stage, (fused, e, k, s, cin, cout, n) in enumerate(_EFFICIENTNET_V2_S, start=1):
        for b in range(n):
            i, stride = (cin, s) if b == 0 else (cout, 1)
            exp, p = i * e, f"features.{stage}.{b}.block"
            h_out = (h - 1) // stride + 1
            if fused and e == 1:
                out.append(_conv(f"{p}.0", i, cout, h, k, stride))
            elif fused:
                out += [_conv(f"{p}.0", i, exp, h, k, stride), _conv(f"{p}.1", exp, cout, h_out, 1)]
            else:
                sq = max(1, i // 4)
                out += [_conv(f"{p}.0", i, exp, h, 1), _conv(f"{p}.1", exp, exp, h, k, stride, exp),
                        _conv(f"{p}.2.fc1", exp, sq, 1, 1), _conv(f"{p}.2.fc2", sq, exp, 1, 1),
                        _conv(f"{p}.3", exp, cout, h_out, 1)]
            h = h_out
    return [*out, _conv("features.7.0", 256, 1280, h, 1)]


def _llama(tokens: int, layers: int, width: int, mlp: int, kv: int, vocab: int
           ) -> list[tuple[str, dict[str, int]]]:
    """A Llama-architecture decoder's linear layers over ``tokens`` tokens: per layer the
    query, key and value projections (keys and values ``kv`` wide: grouped-query
    attention), the output projection, the gated MLP (gate, up: width -> mlp; down), and
    the vocabulary head."""
    out = []
    for i in range(layers):
        p = f"model.layers.{i}"
        out += [(f"{p}.self_attn.q_proj", {"m": tokens, "n": width, "k": width}),
                (f"{p}.self_attn.k_proj", {"m": tokens, "n": kv, "k": width}),
                (f"{p}.self_attn.v_proj", {"m": tokens, "n": kv, "k": width}),
                (f"{p}.self_attn.o_proj", {"m": tokens, "n": width, "k": width}),
                (f"{p}.mlp.gate_proj", {"m": tokens, "n": mlp, "k": width}),
                (f"{p}.mlp.up_proj", {"m": tokens, "n": mlp, "k": width}),
                (f"{p}.mlp.down_proj", {"m": tokens, "n": width, "k": mlp})]
    return [*out, ("lm_head", {"m": tokens, "n": vocab, "k": width})]


def tinyllama_decode() -> list[tuple[str, dict[str, int]]]:
    """TinyLlama-1.1B (22 layers, width 2048, MLP 5632, 4 key/value heads of 64, vocabulary
    32000) generating one token: m = 1."""
    return _llama(1, 22, 2048, 5632, 256, 32000)


def tinyllama_prefill() -> list[tuple[str, dict[str, int]]]:
    """TinyLlama-1.1B reading a 512-token prompt: m = 512."""
    return _llama(512, 22, 2048, 5632, 256, 32000)


def qwen25_05b_prefill() -> list[tuple[str, dict[str, int]]]:
    """Qwen2.5-0.5B (24 layers, width 896, MLP 4864, 2 key/value heads of 64, vocabulary
    151936) reading a 128-token prompt."""
    return _llama(128, 24, 896, 4864, 128, 151936)


def llama32_1b_prefill() -> list[tuple[str, dict[str, int]]]:
    """Llama-3.2-1B (16 layers, width 2048, MLP 8192, 8 key/value heads of 64, vocabulary
    128256) reading a 64-token prompt."""
    return _llama(64, 16, 2048, 8192, 512, 128256)


def squeezenet1_0() -> list[tuple[str, dict[str, Any]]]:
    """torchvision squeezenet1_0: 7x7 stride-2 stem of 96 (unpadded, 224 -> 109), eight fire
    modules between ceil-mode 3x3 stride-2 max pools (109 -> 54 -> 27 -> 13; three fires at
    54, four at 27, one at 13, where squeezenet1_1 has two, two and four), the 1x1
    classifier conv."""
    return _squeezenet(_conv("features.0", 3, 96, 224, 7, 2, pad=0),
                       ((3, 96, 16, 64, 54), (4, 128, 16, 64, 54), (5, 128, 32, 128, 54),
                        (7, 256, 32, 128, 27), (8, 256, 48, 192, 27), (9, 384, 48, 192, 27),
                        (10, 384, 64, 256, 27), (12, 512, 64, 256, 13)))


def mobilenet_v1() -> list[tuple[str, dict[str, Any]]]:
    """MobileNetV1 at width 1.0 (Howard et al. 2017, Table 1): a 3x3 stride-2 stem of 32,
    then 13 depthwise-separable blocks (3x3 depthwise, stride 1 or 2, then a 1x1
    pointwise conv), 224 -> 112 -> 56 -> 28 -> 14 -> 7."""
    blocks = ((1, 32, 64), (2, 64, 128), (1, 128, 128), (2, 128, 256), (1, 256, 256),
              (2, 256, 512), *((1, 512, 512),) * 5, (2, 512, 1024), (1, 1024, 1024))
    out, h = [_conv("conv_stem", 3, 32, 224, 3, 2)], 112
    for i, (s, cin, cout) in enumerate(blocks, 1):
        out.append(_conv(f"block{i}.dw", cin, cin, h, 3, s, cin))
        h //= s
        out.append(_conv(f"block{i}.pw", cin, cout, h, 1))
    return out


def unet() -> list[tuple[str, dict[str, Any]]]:
    """A U-Net (Ronneberger et al. 2015) of base width 32 with padded 3x3 convs at 256x256
    input, the variant common in segmentation code: four 2x down-samplings (two 3x3 convs
    per level, 32 -> 512 channels), the decoder's two 3x3 convs per level over the
    up-sampled map concatenated with the skip (their input twice the level's width), a
    1x1 head of 2 classes. The decoder's 2x2 transposed convs are no conv2d layer and are
    left out."""
    widths = (32, 64, 128, 256, 512)
    out, cin = [], 3
    for i, w in enumerate(widths):
        h = 256 >> i
        out += [_conv(f"down{i}.conv1", cin, w, h, 3), _conv(f"down{i}.conv2", w, w, h, 3)]
        cin = w
    for i in range(len(widths) - 2, -1, -1):
        w, h = widths[i], 256 >> i
        out += [_conv(f"up{i}.conv1", 2 * w, w, h, 3), _conv(f"up{i}.conv2", w, w, h, 3)]
    return [*out, _conv("head", widths[0], 2, 256, 1)]


def _separate_qkv(prefix: str, attn: tuple[str, ...], mlp_names: tuple[str, str], layers: int,
                  tokens: int, width: int, mlp: int) -> list[tuple[str, dict[str, int]]]:
    """A transformer's linear layers over ``tokens`` tokens, per layer (``prefix``.i.) the
    attention's separate width -> width projections (query, key, value, output), named
    ``attn``, and the MLP (width -> mlp -> width), named ``mlp_names``; ``_fused_qkv``'s
    twin for models that keep the query, key and value apart."""
    up, down = mlp_names
    out = []
    for i in range(layers):
        p = f"{prefix}.{i}"
        out += [(f"{p}.{a}", {"m": tokens, "n": width, "k": width}) for a in attn]
        out += [(f"{p}.{up}", {"m": tokens, "n": mlp, "k": width}),
                (f"{p}.{down}", {"m": tokens, "n": width, "k": mlp})]
    return out


def bert_large() -> list[tuple[str, dict[str, int]]]:
    """BERT-large (Devlin et al. 2019: 24 layers, width 1024, MLP 4096) over 128 tokens:
    per layer the query, key, value and attention-output projections and the MLP; the
    pooler on the first token."""
    attn = ("attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense")
    out = _separate_qkv("encoder.layer", attn, ("intermediate.dense", "output.dense"), 24, 128,
                        1024, 4096)
    return [*out, ("pooler.dense", {"m": 1, "n": 1024, "k": 1024})]


def whisper_tiny_encoder() -> list[tuple[str, dict[str, int]]]:
    """Whisper tiny's audio encoder (Radford et al. 2022: 4 layers, width 384, MLP 1536) over
    its 1500 frames: per layer the query, key, value and output projections and the MLP.
    The two conv1d layers of its stem are no conv2d layer and are left out."""
    attn = tuple(f"self_attn.{q}_proj" for q in ("q", "k", "v", "out"))
    return _separate_qkv("encoder.layers", attn, ("fc1", "fc2"), 4, 1500, 384, 1536)


def smollm_135m_decode() -> list[tuple[str, dict[str, int]]]:
    """SmolLM-135M (30 layers, width 576, MLP 1536, 3 key/value heads of 64, vocabulary
    49152, the head tied to the embedding) generating one token: m = 1."""
    return _llama(1, 30, 576, 1536, 192, 49152)


def efficientnet_b1() -> list[tuple[str, dict[str, Any]]]:
    """torchvision efficientnet_b1 (width 1.0, depth 1.1) at 240x240, its weights' input
    size."""
    return _efficientnet(1.0, 1.1, 240)


def wide_resnet50_2() -> list[tuple[str, dict[str, Any]]]:
    """torchvision wide_resnet50_2 (ResNet-50 v1.5 topology, bottlenecks twice as wide:
    128 / 256 / 512 / 1024 channels inside, the stride on the 3x3 conv)."""
    return _resnet50_v15(lambda planes: planes * 2, 1)


def _fused_qkv(prefix: str, names: tuple[str, str, str, str], layers: int, tokens: int,
               width: int, mlp: int) -> list[tuple[str, dict[str, int]]]:
    """A transformer's linear layers over ``tokens`` tokens, per layer (``prefix``.i.) the
    fused query-key-value projection, the attention output projection and the MLP (width ->
    mlp -> width), named ``names``."""
    qkv, proj, up, down = names
    out = []
    for i in range(layers):
        p = f"{prefix}.{i}"
        out += [(f"{p}.{qkv}", {"m": tokens, "n": 3 * width, "k": width}),
                (f"{p}.{proj}", {"m": tokens, "n": width, "k": width}),
                (f"{p}.{up}", {"m": tokens, "n": mlp, "k": width}),
                (f"{p}.{down}", {"m": tokens, "n": width, "k": mlp})]
    return out


def deit_small() -> list[tuple[str, dict[str, int]]]:
    """DeiT-S (Touvron et al. 2021, timm deit_small_patch16_224: 12 layers, width 384, MLP
    1536) at 224x224 with 16x16 patches: 196 patches + the class token; the head."""
    return [*_fused_qkv("blocks", ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"), 12, 197,
                        384, 1536), ("head", {"m": 1, "n": 1000, "k": 384})]


def gpt2_medium_decode() -> list[tuple[str, dict[str, int]]]:
    """GPT-2 medium (Radford et al. 2019: 24 layers, width 1024, MLP 4096, vocabulary 50257,
    the head tied to the embedding) generating one token: m = 1."""
    return [*_fused_qkv("h", ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"), 24, 1,
                        1024, 4096), ("lm_head", {"m": 1, "n": 50257, "k": 1024})]

def xception() -> list[tuple[str, dict[str, Any]]]:
    """Xception (Chollet 2017, Keras / timm legacy xception) at 299x299: two unpadded 3x3
    stem convs (the first stride 2), separable convs (a padded 3x3 depthwise conv, then a
    1x1) in the entry flow's three blocks (to 128 / 256 / 728 channels at 147 / 74 / 37,
    each closed by a stride-2 pool and its 1x1 stride-2 shortcut), eight middle-flow blocks
    of three 728-channel separable convs at 19x19, the exit flow's block (728 -> 1024, pool
    and shortcut to 10x10) and separable convs to 1536 and 2048."""
    out = [_conv("conv1", 3, 32, 299, 3, 2, pad=0), _conv("conv2", 32, 64, 149, 3, pad=0)]

    def sep(name: str, cin: int, cout: int, h: int) -> list[tuple[str, dict[str, Any]]]:
        return [_conv(f"{name}.conv1", cin, cin, h, 3, g=cin),
                _conv(f"{name}.pointwise", cin, cout, h, 1)]

    h = 147
    for i, (cin, cout) in enumerate(((64, 128), (128, 256), (256, 728)), start=1):
        out += [*sep(f"block{i}.rep.0", cin, cout, h), *sep(f"block{i}.rep.1", cout, cout, h),
                _conv(f"block{i}.skip", cin, cout, h, 1, 2, pad=0)]
        h = (h - 1) // 2 + 1
    for i in range(4, 12):
        out += [x for j in range(3) for x in sep(f"block{i}.rep.{j}", 728, 728, h)]
    out += [*sep("block12.rep.0", 728, 728, h), *sep("block12.rep.1", 728, 1024, h),
            _conv("block12.skip", 728, 1024, h, 1, 2, pad=0)]
    h = (h - 1) // 2 + 1
    return [*out, *sep("conv3", 1024, 1536, h), *sep("conv4", 1536, 2048, h)]


def yolov8n() -> list[tuple[str, dict[str, Any]]]:
    """YOLOv8n (Ultralytics 2023, yolov8.yaml at width 0.25, depth 0.33) at 640x640: the
    backbone's stride-2 3x3 convs and C2f blocks (a 1x1 in, 3x3 bottlenecks on half the
    channels, a 1x1 out over the concatenated halves), SPPF's two 1x1s, the neck's C2f
    blocks and stride-2 convs, and the detection head's box (64) and class (80) branches at
    strides 8 / 16 / 32 (two 3x3 convs and a 1x1 each)."""
    out = [_conv("model.0.conv", 3, 16, 640, 3, 2), _conv("model.1.conv", 16, 32, 320, 3, 2)]

    def c2f(i: int, cin: int, cout: int, n: int, h: int) -> list[tuple[str, dict[str, Any]]]:
        c = cout // 2
        blocks = [_conv(f"model.{i}.m.{b}.cv{j}.conv", c, c, h, 3) for b in range(n)
                  for j in (1, 2)]
        return [_conv(f"model.{i}.cv1.conv", cin, 2 * c, h, 1), *blocks,
                _conv(f"model.{i}.cv2.conv", (2 + n) * c, cout, h, 1)]

    out += c2f(2, 32, 32, 1, 160)
    out += [_conv("model.3.conv", 32, 64, 160, 3, 2), *c2f(4, 64, 64, 2, 80),
            _conv("model.5.conv", 64, 128, 80, 3, 2), *c2f(6, 128, 128, 2, 40),
            _conv("model.7.conv", 128, 256, 40, 3, 2), *c2f(8, 256, 256, 1, 20),
            _conv("model.9.cv1.conv", 256, 128, 20, 1), _conv("model.9.cv2.conv", 512, 256, 20, 1)]
    out += [*c2f(12, 384, 128, 1, 40), *c2f(15, 192, 64, 1, 80),
            _conv("model.16.conv", 64, 64, 80, 3, 2), *c2f(18, 192, 128, 1, 40),
            _conv("model.19.conv", 128, 128, 40, 3, 2), *c2f(21, 384, 256, 1, 20)]
    for s, (ch, h) in enumerate(((64, 80), (128, 40), (256, 20))):
        for branch, width in (("cv2", 64), ("cv3", 80)):
            p = f"model.22.{branch}.{s}"
            out += [_conv(f"{p}.0.conv", ch, width, h, 3), _conv(f"{p}.1.conv", width, width, h, 3),
                    _conv(f"{p}.2", width, width, h, 1)]
    return out


def vit_b32() -> list[tuple[str, dict[str, int]]]:
    """torchvision vit_b_32: 12 layers, width 768, MLP 3072, 32x32 patches at 224x224: 49
    patches + the class token."""
    return [(name, {**shape, "m": 50}) if shape["m"] == 197 else (name, shape)
            for name, shape in _vit(12, 768, 3072)]


def t5_small_encoder() -> list[tuple[str, dict[str, int]]]:
    """T5-small's encoder (Raffel et al. 2020: 6 layers, width 512, 8 heads of 64, feed-forward
    2048, no biases) over 512 tokens: per layer the query, key, value and output projections
    and the feed-forward wi / wo."""
    attn = tuple(f"layer.0.SelfAttention.{w}" for w in ("q", "k", "v", "o"))
    return _separate_qkv("encoder.block", attn, ("layer.1.DenseReluDense.wi",
                                                 "layer.1.DenseReluDense.wo"), 6, 512, 512, 2048)


def regnet_x_800mf() -> list[tuple[str, dict[str, Any]]]:
    """torchvision regnet_x_800mf (widths 64 / 128 / 288 / 672, depths 1 / 3 / 7 / 5, group
    width 16, no squeeze-excitation): per block 1x1, 3x3 in groups of 16 channels (stride 2
    in a stage's first block), 1x1; a stage's first block has a 1x1 stride-2 projection."""
    out = [_conv("stem.0", 3, 32, 224, 3, 2)]
    h, cin = 112, 32
    for si, (w, depth) in enumerate(((64, 1), (128, 3), (288, 7), (672, 5)), start=1):
        for b in range(depth):
            p = f"trunk_output.block{si}.block{si}-{b}"
            s = 2 if b == 0 else 1
            if b == 0:
                out.append(_conv(f"{p}.proj.0", cin, w, h, 1, 2, pad=0))
            out += [_conv(f"{p}.f.a.0", cin, w, h, 1), _conv(f"{p}.f.b.0", w, w, h, 3, s, w // 16)]
            h = (h - 1) // s + 1
            out.append(_conv(f"{p}.f.c.0", w, w, h, 1))
            cin = w
    return out


def phi2_decode() -> list[tuple[str, dict[str, int]]]:
    """Phi-2 (Microsoft 2023: 32 layers, width 2560, MLP 10240, vocabulary 51200) generating
    one token: m = 1; per layer the query, key and value projections, the attention's dense
    output, the MLP's fc1 / fc2, then the head."""
    attn = tuple(f"self_attn.{w}" for w in ("q_proj", "k_proj", "v_proj", "dense"))
    out = _separate_qkv("model.layers", attn, ("mlp.fc1", "mlp.fc2"), 32, 1, 2560, 10240)
    return [*out, ("lm_head", {"m": 1, "n": 51200, "k": 2560})]


#: linear_large: log-uniform ranges of m, n, k, the output range (MiB) and the largest FLOPs
_LARGE = {"m": (128, 4096), "n": (4096, 131072), "k": (256, 4096)}
_LARGE_OUT_MIB = (12.0, 256.0)
_LARGE_MAX_FLOPS = 1.2e11


def efficientnet_b3() -> list[tuple[str, dict[str, Any]]]:
    """torchvision efficientnet_b3 (width 1.2, depth 1.4) at 300x300, its weights' input
    size."""
    return _efficientnet(1.2, 1.4, 300)


def resnet18() -> list[tuple[str, dict[str, Any]]]:
    """torchvision resnet18 at 224x224: the 7x7 stem, two basic blocks (two 3x3 convs) per
    stage at 64 / 128 / 256 / 512 channels, each later stage opening with a stride-2 3x3
    conv and a stride-2 1x1 downsample."""
    out = [_conv("conv1", 3, 64, 224, 7, 2)]
    out += [_conv(f"layer1.{b}.conv{j}", 64, 64, 56, 3) for b in (0, 1) for j in (1, 2)]
    cin, h = 64, 56
    for i, c in enumerate((128, 256, 512), start=2):
        out += [_conv(f"layer{i}.0.conv1", cin, c, h, 3, 2),
                _conv(f"layer{i}.0.conv2", c, c, h // 2, 3),
                _conv(f"layer{i}.0.downsample.0", cin, c, h, 1, 2, pad=0),
                _conv(f"layer{i}.1.conv1", c, c, h // 2, 3),
                _conv(f"layer{i}.1.conv2", c, c, h // 2, 3)]
        cin, h = c, h // 2
    return out


def qwen25_15b_decode() -> list[tuple[str, dict[str, int]]]:
    """Qwen2.5-1.5B (28 layers, width 1536, MLP 8960, 2 key/value heads of 128, vocabulary
    151936) generating one token: m = 1."""
    return _llama(1, 28, 1536, 8960, 256, 151936)


def llama32_3b_decode() -> list[tuple[str, dict[str, int]]]:
    """Llama-3.2-3B (28 layers, width 3072, MLP 8192, 8 key/value heads of 128, vocabulary
    128256) generating one token: m = 1."""
    return _llama(1, 28, 3072, 8192, 1024, 128256)


def linear_large(n_shapes: int = 20, seed: int = 0) -> list[tuple[str, dict[str, int]]]:
    """``n_shapes`` linear shapes drawn log-uniformly from ``_LARGE`` (seeded), kept if the
    output (m x n floats) is within ``_LARGE_OUT_MIB`` and the FLOPs (2 m n k) at most
    ``_LARGE_MAX_FLOPS``; named by shape."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list[tuple[str, dict[str, int]]] = []
    while len(out) < n_shapes:
        m, n, k = (int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
                   for lo, hi in _LARGE.values())
        mib = m * n * 4 / 2**20
        if _LARGE_OUT_MIB[0] <= mib <= _LARGE_OUT_MIB[1] and 2 * m * n * k <= _LARGE_MAX_FLOPS:
            out.append((f"m{m}_n{n}_k{k}", {"m": m, "n": n, "k": k}))
    return out


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
    "inception_v3": ("conv2d", inception_v3,
                     "torchvision inception_v3 (Szegedy et al. 2016), every conv layer at "
                     "299x299 input in eval mode (its 1x7, 7x1, 1x3 and 3x1 convs, padded in "
                     "one dimension only, as the same conv unpadded over the input padded in "
                     "that dimension beforehand)"),
    "mobilenet_v3_small": ("conv2d", mobilenet_v3_small,
                           "torchvision mobilenet_v3_small (Howard et al. 2019), every conv "
                           "layer at 224x224 input"),
    "efficientnet_v2_s": ("conv2d", efficientnet_v2_s,
                          "torchvision efficientnet_v2_s (Tan & Le 2021), every conv layer at "
                          "384x384 input"),
    "tinyllama_decode": ("linear", tinyllama_decode,
                         "TinyLlama-1.1B (Zhang et al. 2024, Llama 2 architecture), every "
                         "linear layer generating one token (m = 1)"),
    "tinyllama_prefill": ("linear", tinyllama_prefill,
                          "TinyLlama-1.1B (Zhang et al. 2024, Llama 2 architecture), every "
                          "linear layer over a 512-token prompt (m = 512)"),
    "qwen25_05b_prefill": ("linear", qwen25_05b_prefill,
                           "Qwen2.5-0.5B (Qwen team 2024), every linear layer over a "
                           "128-token prompt (m = 128)"),
    "llama32_1b_prefill": ("linear", llama32_1b_prefill,
                           "Llama-3.2-1B (Meta 2024), every linear layer over a 64-token "
                           "prompt (m = 64)"),
    "squeezenet1_0": ("conv2d", squeezenet1_0,
                      "torchvision squeezenet1_0 (Iandola et al. 2016), every conv layer at "
                      "224x224 input"),
    "mobilenet_v1": ("conv2d", mobilenet_v1,
                     "MobileNetV1 (Howard et al. 2017), width 1.0, every conv layer at "
                     "224x224 input"),
    "unet": ("conv2d", unet,
             "a U-Net (Ronneberger et al. 2015), base width 32, padded 3x3 convs, every "
             "conv2d layer at 256x256 input (the 2x2 transposed convs left out)"),
    "bert_large": ("linear", bert_large,
                   "BERT-large (Devlin et al. 2019), every linear layer of the encoder over "
                   "128 tokens, and the pooler"),
    "whisper_tiny_encoder": ("linear", whisper_tiny_encoder,
                             "Whisper tiny (Radford et al. 2022), every linear layer of the "
                             "audio encoder over its 1500 frames"),
    "smollm_135m_decode": ("linear", smollm_135m_decode,
                           "SmolLM-135M (Hugging Face 2024, Llama architecture), every "
                           "linear layer generating one token (m = 1)"),
    "efficientnet_b1": ("conv2d", efficientnet_b1,
                        "torchvision efficientnet_b1 (Tan & Le 2019), every conv layer at "
                        "240x240 input"),
    "wide_resnet50_2": ("conv2d", wide_resnet50_2,
                        "torchvision wide_resnet50_2 (Zagoruyko & Komodakis 2016), every conv "
                        "layer at 224x224 input"),
    "deit_small": ("linear", deit_small,
                   "DeiT-S (Touvron et al. 2021), every linear layer at 224x224 input (197 "
                   "tokens)"),
    "gpt2_medium_decode": ("linear", gpt2_medium_decode,
                           "GPT-2 medium (Radford et al. 2019), every linear layer generating "
                           "one token (m = 1)"),
    "efficientnet_b3": ("conv2d", efficientnet_b3,
                        "EfficientNet-B3 (Tan & Le 2019), torchvision's, every conv layer at "
                        "300x300 input"),
    "resnet18": ("conv2d", resnet18,
                 "ResNet-18 (He et al. 2016), torchvision's, every conv layer at 224x224 "
                 "input"),
    "qwen25_15b_decode": ("linear", qwen25_15b_decode,
                          "Qwen2.5-1.5B (Qwen team 2024), every linear layer generating one "
                          "token (m = 1)"),
    "llama32_3b_decode": ("linear", llama32_3b_decode,
                          "Llama-3.2-3B (Meta 2024), every linear layer generating one token "
                          "(m = 1)"),
    "xception": ("conv2d", xception,
                 "Xception (Chollet 2017), every conv layer at 299x299 input"),
    "yolov8n": ("conv2d", yolov8n,
                "YOLOv8n (Ultralytics 2023), every conv layer of the backbone, neck and "
                "detection head at 640x640 input (the fixed DFL conv left out)"),
    "vit_b32": ("linear", vit_b32,
                "torchvision vit_b_32 (Dosovitskiy et al. 2021), every linear layer at "
                "224x224 input (50 tokens)"),
    "t5_small_encoder": ("linear", t5_small_encoder,
                         "T5-small (Raffel et al. 2020), every linear layer of the encoder "
                         "over 512 tokens"),
    "regnet_x_800mf": ("conv2d", regnet_x_800mf,
                       "torchvision regnet_x_800mf (Radosavovic et al. 2020), every conv "
                       "layer at 224x224 input"),
    "phi2_decode": ("linear", phi2_decode,
                    "Phi-2 (Microsoft 2023), every linear layer generating one token (m = 1)"),
    "linear_large": ("linear", linear_large,
                     "not a network: a profiling probe, 20 linear shapes drawn log-uniformly "
                     "(seed 0) with m in [128, 4096], n in [4096, 131072], k in [256, 4096], "
                     "kept if the output is 12-256 MiB and the FLOPs at most 1.2e11"),
}


def suite(name: str) -> dict[str, Any]:
    """The suite's JSON object: layers deduplicated by shape, first name, counts."""
    op, build, what = SUITES[name]
    layers = build()
    return {"name": name, "op": op,
            "source": f"{what}, batch 1, deduplicated by shape ({len(layers)} layers); name "
                      f"= first occurrence, count = occurrences; written by "
                      f"scripts/make_suites.py from the architecture's table",
            "layers": merge_layers(layers)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "datasets"
                                         / "suites"))
    out = Path(ap.parse_args().out)
    for name in SUITES:
        data = suite(name)
        (out / f"{name}.json").write_text(suite_text(data))
        print(f"{name}: {len(data['layers'])} shapes")


if __name__ == "__main__":
    main()
