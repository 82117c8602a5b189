"""Suites from ONNX models (``datasets.onnx_suite``), suite files wherever a suite is named,
and ``latpred suite``. The models are built with ``onnx.helper`` here: real ONNX graphs,
checked by ONNX's own checker before use."""

from __future__ import annotations

import json

import numpy as np
import onnx  # in the test extras: a missing onnx fails here
import pytest
from latpred.datasets import suites
from latpred.datasets.onnx_suite import onnx_suites
from latpred.profiler.problems import ConvLayer, LinearLayer
from onnx import TensorProto, helper, numpy_helper

from latpred.cli import main
from latpred.errors import LatpredError


def _init(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def cnn(batch: int | str = 1) -> onnx.ModelProto:
    """A small CNN: stem, depthwise, a grouped 1x1 repeated, an Inception-style 1x7 with
    padding in one dimension only, SAME_UPPER padding, global pool, Gemm head."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])
    inits = [_init("w_stem", 16, 3, 3, 3), _init("w_dw", 16, 1, 3, 3),
             _init("w_pw", 32, 16, 1, 1), _init("w_pw2", 32, 32, 1, 1),
             _init("w_17", 32, 32, 1, 7), _init("w_same", 8, 32, 3, 3),
             _init("w_fc", 10, 8), _init("b_fc", 10)]
    nodes = [
        helper.make_node("Conv", ["x", "w_stem"], ["a"], name="stem", strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["a1"]),
        helper.make_node("Conv", ["a1", "w_dw"], ["b"], name="dw", group=16,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["b", "w_pw"], ["c"], name="pw"),
        helper.make_node("Conv", ["c", "w_pw2"], ["c2"], name="pw2a"),
        helper.make_node("Conv", ["c2", "w_pw2"], ["c3"], name="pw2b"),  # same shape again
        helper.make_node("Conv", ["c3", "w_17"], ["d"], name="c1x7", pads=[0, 3, 0, 3]),
        helper.make_node("Conv", ["d", "w_same"], ["e"], name="same", strides=[2, 2],
                         auto_pad="SAME_UPPER"),
        helper.make_node("GlobalAveragePool", ["e"], ["f"]),
        helper.make_node("Flatten", ["f"], ["g"]),
        helper.make_node("Gemm", ["g", "w_fc", "b_fc"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "cnn", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def decoder() -> onnx.ModelProto:
    """A transformer block's products over a symbolic sequence: q and k projections
    (MatMul with weights, one through a Transpose), the attention scores (two activations),
    and a 1-D conv (NCW)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "seq", 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "seq", "seq"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64, "seq"])
    inits = [_init("wq", 64, 64), _init("wk_t", 96, 64), _init("wc", 64, 64, 3)]
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q_proj"),
        helper.make_node("Transpose", ["wk_t"], ["wk"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="k_proj"),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["y"], name="scores"),
        helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 2, 1]),
        helper.make_node("Conv", ["xc", "wc"], ["z"], name="conv1d", pads=[1, 1]),
    ]
    graph = helper.make_graph(nodes, "decoder", [x], [y, z], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_cnn_layers_match_onnx_shapes() -> None:
    imp = onnx_suites(cnn(), name="tiny")
    conv, lin = imp.suites["conv2d"], imp.suites["linear"]
    assert (conv["name"], lin["name"]) == ("tiny", "tiny_fc")
    assert imp.layers == {"conv2d": 7, "linear": 1}
    by = {lay["name"]: lay for lay in conv["layers"]}
    assert list(by) == ["stem", "dw", "pw", "pw2a", "c1x7", "same"]  # pw2b: pw2a's shape
    assert by["pw2a"]["count"] == 2
    assert by["stem"] == {"name": "stem", "count": 1, "in_channels": 3, "out_channels": 16,
                          "height": 32, "width": 32, "kernel_h": 3, "kernel_w": 3,
                          "stride": 2, "padding": 1, "dilation": 1, "groups": 1, "batch": 1}
    assert by["dw"]["groups"] == 16 and ConvLayer(**_fields(by["dw"])).is_depthwise
    # padding in width only: folded into the input, the conv unpadded
    assert (by["c1x7"]["width"], by["c1x7"]["height"], by["c1x7"]["padding"]) == (22, 16, 0)
    c17 = ConvLayer(**_fields(by["c1x7"]))
    assert (c17.out_h, c17.out_w) == (16, 16)
    # SAME_UPPER, 16 -> 8 at stride 2 with a 3x3 kernel: pads 0 before, 1 after
    same = ConvLayer(**_fields(by["same"]))
    assert (same.height, same.width, same.padding, same.out_h, same.out_w) == (17, 17, 0, 8, 8)
    assert lin["layers"] == [{"name": "fc", "count": 1, "m": 1, "n": 10, "k": 8}]
    assert not imp.skipped


def _fields(layer: dict) -> dict:
    return {k: v for k, v in layer.items() if k not in ("name", "count")}


def test_batch_dimension_and_symbolic_dims() -> None:
    with pytest.raises(LatpredError, match=r"x\[0\].*--dim batch=N"):
        onnx_suites(cnn("batch"))
    imp = onnx_suites(cnn("batch"), dims={"batch": 4})
    assert {lay["batch"] for lay in imp.suites["conv2d"]["layers"]} == {4}
    assert imp.suites["linear"]["layers"][0]["m"] == 4
    with pytest.raises(LatpredError, match="dim.*seq"):
        onnx_suites(cnn("batch"), dims={"batch": 1, "seq": 8})  # no such dimension


def test_decoder_weights_attention_and_conv1d() -> None:
    imp = onnx_suites(decoder(), dims={"seq": 12}, name="dec")
    lin = {lay["name"]: lay for lay in imp.suites["linear"]["layers"]}
    assert lin["q_proj"] == {"name": "q_proj", "count": 1, "m": 12, "n": 64, "k": 64}
    assert lin["k_proj"] == {"name": "k_proj", "count": 1, "m": 12, "n": 96, "k": 64}
    assert "scores" not in lin
    assert imp.skipped == {"MatMul of two activations (no weight: attention)": 1}
    (c1,) = imp.suites["conv2d"]["layers"]
    layer = ConvLayer(**_fields(c1))
    assert (layer.height, layer.kernel_h, layer.out_h, layer.out_w) == (1, 1, 1, 12)
    assert (c1["width"], c1["padding"]) == (14, 0)  # NCW padding folded into the width
    assert imp.suites["linear"]["name"] == "dec_fc"


def test_suite_file_everywhere_a_suite_is_named(tmp_path) -> None:
    model = tmp_path / "my net.onnx"
    onnx.save(cnn(), str(model))
    assert main(["suite", "from-onnx", str(model), "--out", str(tmp_path / "s")]) == 0
    conv = tmp_path / "s" / "my_net.json"
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["my_net.json",
                                                                    "my_net_fc.json"]
    items = suites.suite_layers(str(conv))
    assert [n for n, _c, _l in items][:2] == ["stem", "dw"]
    assert suites.suite_label(str(conv)) == "my_net"
    assert isinstance(suites.suite_layers(str(tmp_path / "s" / "my_net_fc.json"))[0].layer,
                      LinearLayer)
    # the file is the shipped format: one layer a line
    text = conv.read_text()
    assert text == suites.suite_text(json.loads(text))
    # written again: refused without --force, nothing changed
    assert main(["suite", "from-onnx", str(model), "--out", str(tmp_path / "s")]) == 2
    assert conv.read_text() == text


def test_profile_takes_a_suite_file(tmp_path, capsys) -> None:
    model = tmp_path / "m.onnx"
    onnx.save(cnn(), str(model))
    assert main(["suite", "from-onnx", str(model), "--out", str(tmp_path), "--name",
                 "mine"]) == 0
    out = tmp_path / "ds"
    assert main(["profile", "--op", "linear", "--suite", str(tmp_path / "mine_fc.json"),
                 "--backend", "cpu", "--threads", "1", "--pocl-threads", "none",
                 "--passes", "forward", "--quick", "--no-progress", "--out", str(out)]) == 0
    from latpred.datasets import load

    df = load(out)
    assert set(df["suite"]) == {"mine_fc"} and set(df["layer"]) == {"fc"}
    assert (df["status"] == "ok").all() and (df[["m", "n", "k"]].to_numpy() == [1, 10, 8]).all()
    # a conv2d suite file for a linear sweep: one line, nothing written
    capsys.readouterr()
    assert main(["profile", "--op", "linear", "--suite", str(tmp_path / "mine.json"),
                 "--out", str(tmp_path / "ds2")]) == 2
    assert "is a conv2d suite" in capsys.readouterr().err
    assert not (tmp_path / "ds2").exists()


def test_plan_takes_a_suite_file(tmp_path, capsys) -> None:
    model = tmp_path / "m.onnx"
    onnx.save(cnn(), str(model))
    assert main(["suite", "from-onnx", str(model), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    code = main(["plan", "--models", "datasets/h100/models/v3gpurel", "--as-trained",
                 "--suite", str(tmp_path / "m.json"), "--plan-steps", "4",
                 "--max-local-sizes", "1", "--threads", "4,16"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("stem", "dw", "pw", "pw2a", "c1x7", "same"):
        assert name in out


@pytest.mark.parametrize("content, match", [
    ("{", "invalid JSON"),
    ('{"name": "x", "op": "conv2d", "layers": []}', "no layers"),
    ('{"op": "linear", "layers": [{"name": "a", "m": 1, "n": 2, "k": 3}]}', "needs a 'name'"),
    ('{"name": "../up", "op": "linear", "layers": [{"name": "a", "m": 1, "n": 2, "k": 3}]}',
     "needs a 'name'"),
    ('{"name": "x", "op": "linear", "layers": [{"name": "a", "m": 0, "n": 2, "k": 3}]}',
     "m"),
])
def test_bad_suite_files_one_line(tmp_path, capsys, content, match) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LatpredError, match=match):
        suites.suite_layers(str(path))
    assert main(["suite", "show", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "suite" in err and str(path) in err and "\n" not in err


def test_missing_suite_file_and_not_onnx(tmp_path, capsys) -> None:
    with pytest.raises(LatpredError, match="no such suite file"):
        suites.load_suite(str(tmp_path / "none.json"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model\xff" * 10)
    assert main(["suite", "from-onnx", str(junk), "--out", str(tmp_path / "o")]) == 2
    assert "not an ONNX model" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written
    assert main(["suite", "from-onnx", str(junk), "--out", str(tmp_path / "o"),
                 "--dim", "batch"]) == 2
    assert "SYMBOL=N" in capsys.readouterr().err


def test_suite_list_and_show(capsys) -> None:
    assert main(["suite", "list"]) == 0
    out = capsys.readouterr().out
    assert "| resnet50 | conv2d |" in out and "| gpt2_small | linear |" in out
    assert main(["suite", "show", "resnet50_fc"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("resnet50_fc: linear, 1 shapes, 1 layers")
    assert "| fc | 1 | 1 | 1000 | 2048 |" in out


def test_output_size_check_catches_a_wrong_mapping(monkeypatch) -> None:
    """A conv mapped with one padding too many disagrees with ONNX's inferred output size:
    left out with its reason, not written."""
    from latpred.datasets import onnx_suite

    real = onnx_suite._conv

    def off_by_one(node, shapes):
        got = real(node, shapes)
        if isinstance(got, dict) and node.name == "pw":
            got = {**got, "padding": got["padding"] + 1}
        return got

    monkeypatch.setattr(onnx_suite, "_conv", off_by_one)
    imp = onnx_suites(cnn())
    assert "pw" not in {lay["name"] for lay in imp.suites["conv2d"]["layers"]}
    assert imp.skipped == {"Conv whose output size disagrees with ONNX's shape inference": 1}


def test_left_out_ops_are_counted() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 4, 4, 8, 8])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
            for n, s in (("t", [1, 2, 16, 16]), ("u", [1, 2, 2, 6, 6]), ("c", [1, 8, 6, 6]))]
    nodes = [
        helper.make_node("ConvTranspose", ["x", "wt"], ["t"], strides=[2, 2]),
        helper.make_node("Conv", ["v", "w3"], ["u"]),
        helper.make_node("Conv", ["x", "w2"], ["c"], name="kept", strides=[1, 1]),
    ]
    inits = [_init("wt", 4, 2, 2, 2), _init("w3", 2, 4, 3, 3, 3), _init("w2", 8, 4, 3, 3)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x, v], outs, inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    imp = onnx_suites(model)
    assert [lay["name"] for lay in imp.suites["conv2d"]["layers"]] == ["kept"]
    assert "linear" not in imp.suites
    assert imp.skipped == {"ConvTranspose (not a conv2d layer)": 1,
                           "Conv on a 5-D input (conv2d and conv1d only)": 1}


def test_a_real_network_matches_the_shipped_suites() -> None:
    """ONNX's own weight-stripped ResNet-50 (shipped inside the onnx package) gives exactly
    the layers of the shipped resnet50 and resnet50_fc suites, which scripts/make_suites.py
    writes from the architecture's table: two independent derivations."""
    from pathlib import Path

    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    imp = onnx_suites(path)
    assert not imp.skipped and imp.layers == {"conv2d": 53, "linear": 1}

    def shapes(layers: list[dict]) -> dict[tuple, int]:
        return {tuple(sorted(_fields(lay).items())): lay["count"] for lay in layers}

    for op, shipped in (("conv2d", "resnet50"), ("linear", "resnet50_fc")):
        assert shapes(imp.suites[op]["layers"]) == shapes(suites.load_suite(shipped)["layers"])


def test_layers_inside_local_functions_are_found() -> None:
    """Exporters (torch.onnx's dynamo path) wrap modules in model-local functions: they are
    inlined before the search, so a Linear inside one is still a layer."""
    fn = helper.make_function(
        "pkg", "Proj", ["inp", "w"], ["out"],
        [helper.make_node("MatMul", ["inp", "w"], ["out"], name="proj_mm")],
        opset_imports=[helper.make_opsetid("", 17)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 48])
    graph = helper.make_graph([helper.make_node("Proj", ["x", "w"], ["y"], domain="pkg")],
                              "g", [x], [y], [_init("w", 32, 48)])
    model = helper.make_model(graph, functions=[fn], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("pkg", 1)])
    onnx.checker.check_model(model)
    imp = onnx_suites(model)
    assert [_fields(lay) for lay in imp.suites["linear"]["layers"]] == [{"m": 3, "n": 48,
                                                                         "k": 32}]
