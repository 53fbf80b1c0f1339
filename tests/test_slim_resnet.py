"""The slim ResNet port against an independent NumPy (NHWC, HWIO) reference.

The reference follows TF-slim's ``resnet_v1`` recipe from its variable names
alone: TF "SAME"/"VALID" padding rules, ``conv2d_same`` for strided convs, BN
with epsilon 1e-5, SAME max-pool, ``subsample`` shortcuts, stride 2 on the
last unit of blocks 1-3, spatial mean and a biased 1x1 ``logits`` conv.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from tf_writer import slim_variables_from_state_dict
from vidaesthetic.errors import ModelError
from vidaesthetic.models.slim_convert import state_dict_from_slim
from vidaesthetic.models.slim_resnet import MEAN_RGB, AestheticResNet, MeanLike, ResNetV1, max_pool_same

AUTHORS_INDEX = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "authors" / "ae_model.index"

Variables = Dict[str, np.ndarray]


# --- NumPy reference (NHWC activations, HWIO kernels) -----------------------

def same_pads(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TF "SAME": output ceil(size / stride), the odd pixel of padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def np_conv(x: np.ndarray, w: np.ndarray, stride: int, padding: str) -> np.ndarray:
    kh, kw = w.shape[:2]
    if padding == "SAME":
        x = np.pad(x, ((0, 0), same_pads(x.shape[1], kh, stride),
                       same_pads(x.shape[2], kw, stride), (0, 0)))
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # N,H,W,C,kh,kw
    return np.tensordot(windows, w.transpose(2, 0, 1, 3), axes=([3, 4, 5], [0, 1, 2]))


def np_conv2d_same(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """slim ``conv2d_same``: SAME at stride 1, else explicit symmetric pad then VALID."""
    if stride == 1:
        return np_conv(x, w, 1, "SAME")
    total = w.shape[0] - 1
    pads = (total // 2, total - total // 2)
    return np_conv(np.pad(x, ((0, 0), pads, pads, (0, 0))), w, stride, "VALID")


def np_max_pool_same(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    x = np.pad(x, ((0, 0), same_pads(x.shape[1], kernel, stride),
                   same_pads(x.shape[2], kernel, stride), (0, 0)), constant_values=-np.inf)
    return sliding_window_view(x, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride].max(axis=(4, 5))


def np_conv_bn(x: np.ndarray, v: Variables, scope: str, stride: int = 1,
               same: bool = False, relu: bool = True) -> np.ndarray:
    """slim conv2d (or conv2d_same) + BatchNorm(eps 1e-5) + optional ReLU."""
    w = v[f"{scope}/weights"]
    y = np_conv2d_same(x, w, stride) if same else np_conv(x, w, stride, "SAME")
    bn = f"{scope}/BatchNorm"
    y = (y - v[f"{bn}/moving_mean"]) / np.sqrt(v[f"{bn}/moving_variance"] + 1e-5)
    y = y * v[f"{bn}/gamma"] + v[f"{bn}/beta"]
    return np.maximum(y, 0) if relu else y


def np_unit(x: np.ndarray, v: Variables, scope: str, stride: int) -> np.ndarray:
    bottleneck = f"{scope}/bottleneck_v1/conv1/weights" in v
    scope += "/bottleneck_v1" if bottleneck else "/basic_v1"
    depth = v[f"{scope}/{'conv3' if bottleneck else 'conv2'}/weights"].shape[-1]
    if depth == x.shape[-1]:
        shortcut = np_max_pool_same(x, 1, stride)  # slim "subsample"
    else:
        shortcut = np_conv_bn(x, v, f"{scope}/shortcut", stride, relu=False)
    if bottleneck:
        r = np_conv_bn(x, v, f"{scope}/conv1")
        r = np_conv_bn(r, v, f"{scope}/conv2", stride, same=True)
        r = np_conv_bn(r, v, f"{scope}/conv3", relu=False)
    else:
        r = np_conv_bn(x, v, f"{scope}/conv1", stride, same=True)
        r = np_conv_bn(r, v, f"{scope}/conv2", relu=False)
    return np.maximum(shortcut + r, 0)


def units_per_block(v: Variables, scope: str) -> List[int]:
    units = {tuple(name.split("/")[1:3]) for name in v if name.startswith(f"{scope}/block")}
    return [sum(1 for block, _ in units if block == f"block{b}") for b in range(1, 5)]


def np_resnet(x: np.ndarray, v: Variables, scope: str) -> Dict[str, np.ndarray]:
    """Activations of every slim layer for NHWC input ``x``, keyed by scope."""
    acts = {"conv1": np_conv_bn(x, v, f"{scope}/conv1", 2, same=True)}
    x = acts["pool1"] = np_max_pool_same(acts["conv1"], 3, 2)
    for b, count in enumerate(units_per_block(v, scope), start=1):
        for u in range(1, count + 1):
            stride = 2 if b < 4 and u == count else 1
            x = acts[f"block{b}/unit_{u}"] = np_unit(x, v, f"{scope}/block{b}/unit_{u}", stride)
    x = acts["pool5"] = x.mean(axis=(1, 2), keepdims=True)
    acts["logits"] = (x @ v[f"{scope}/logits/weights"][0, 0] + v[f"{scope}/logits/biases"])[:, 0, 0]
    return acts


# --- helpers ----------------------------------------------------------------

def random_variables(net: ResNetV1, rng: np.random.Generator) -> Variables:
    """Slim variables of ``net``'s layout with He-scaled kernels and non-trivial BN."""
    out = {}
    for name, value in slim_variables_from_state_dict(net.state_dict(), net.scope).items():
        leaf, shape = name.rsplit("/", 1)[1], value.shape
        if leaf == "weights":
            out[name] = rng.normal(0, np.sqrt(2 / np.prod(shape[:3])), shape)
        elif leaf in ("gamma", "moving_variance"):
            out[name] = rng.uniform(0.5, 1.5, shape)
        else:
            out[name] = rng.normal(0, 0.1, shape)
    return out


def loaded(depth: int, width: float, v: Variables, dtype: torch.dtype) -> ResNetV1:
    net = ResNetV1(depth, width).to(dtype)
    net.load_state_dict(state_dict_from_slim(v, net.scope))  # casts to the parameters' dtype
    return net.eval()


def nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy()


def assert_close(actual: np.ndarray, desired: np.ndarray, rtol: float) -> None:
    """Elementwise, relative to the largest magnitude (values near 0 carry no signal)."""
    assert actual.shape == desired.shape
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * np.abs(desired).max())


def checkpoint_shapes(path: Path) -> Dict[str, Tuple[int, ...]]:
    """Variable names and shapes of a TF V2 checkpoint index (an uncompressed SSTable)."""
    data = path.read_bytes()

    def varint(buf: bytes, i: int) -> Tuple[int, int]:
        value = shift = 0
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, i

    def block(handle: bytes) -> List[Tuple[bytes, bytes]]:
        offset, i = varint(handle, 0)
        size, _ = varint(handle, i)
        assert data[offset + size] == 0, "compressed block"
        buf = data[offset:offset + size]
        end = len(buf) - 4 - 4 * struct.unpack("<I", buf[-4:])[0]
        entries, key, i = [], b"", 0
        while i < end:
            shared, i = varint(buf, i)
            fresh, i = varint(buf, i)
            length, i = varint(buf, i)
            key = key[:shared] + buf[i:i + fresh]
            entries.append((key, buf[i + fresh:i + fresh + length]))
            i += fresh + length
        return entries

    def fields(buf: bytes) -> List[Tuple[int, Any]]:  # protobuf wire format
        out: List[Tuple[int, Any]] = []
        i = 0
        while i < len(buf):
            tag, i = varint(buf, i)
            value: Any
            if tag & 7 == 0:
                value, i = varint(buf, i)
            elif tag & 7 == 2:
                length, i = varint(buf, i)
                value, i = buf[i:i + length], i + length
            elif tag & 7 == 5:
                value, i = buf[i:i + 4], i + 4
            else:
                value, i = buf[i:i + 8], i + 8
            out.append((tag >> 3, value))
        return out

    assert struct.unpack("<Q", data[-8:])[0] == 0xDB4775248B80FB57
    footer = data[-48:]
    _, i = varint(footer, varint(footer, 0)[1])  # skip the metaindex handle
    shapes = {}
    for _, handle in block(footer[i:]):
        for key, value in block(handle):
            if key:  # the empty key holds the bundle header
                shape = next(v for f, v in fields(value) if f == 2)  # BundleEntryProto.shape
                dims = [next(s for f, s in fields(d) if f == 1) for f, d in fields(shape) if f == 2]
                shapes[key.decode()] = tuple(dims)
    return shapes


# --- layers -----------------------------------------------------------------

@pytest.mark.parametrize("size", [(112, 112), (113, 111), (7, 10), (2, 3), (1, 1)])
def test_max_pool_same_matches_tf(size: Tuple[int, int]) -> None:
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    assert_close(nhwc(max_pool_same(x)), np_max_pool_same(nhwc(x), 3, 2), 1e-12)


def test_max_pool_on_112_pads_after_only() -> None:
    x = torch.randn(1, 4, 112, 112)
    y = max_pool_same(x)
    assert y.shape == (1, 4, 56, 56)
    assert torch.equal(y, F.max_pool2d(x, 3, 2, padding=0, ceil_mode=True))
    symmetric = F.max_pool2d(x, 3, 2, padding=1)
    assert symmetric.shape == y.shape and not torch.allclose(symmetric, y)


CONFIGS = [(50, 0.25, (67, 53)), (18, 0.25, (64, 64)), (34, 0.125, (40, 45))]


@pytest.mark.parametrize("depth,width,size", CONFIGS)
def test_every_layer_matches_reference(depth: int, width: float, size: Tuple[int, int]) -> None:
    """Each layer, fed the port's own input to it, against the reference (float64)."""
    rng = np.random.default_rng(depth)
    v = random_variables(ResNetV1(depth, width), rng)
    net = loaded(depth, width, v, torch.float64)
    scope = net.scope
    seen: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
    layers = {"conv1": net.conv1, "logits": net.logits}
    for b in range(1, 5):
        for u, unit in enumerate(getattr(net, f"block{b}")):
            layers[f"block{b}/unit_{u + 1}"] = unit
    for key, module in layers.items():
        module.register_forward_hook(lambda m, i, o, key=key: seen.__setitem__(key, (i[0], o)))
    x = torch.randn(2, 3, *size, dtype=torch.float64) * 50
    with torch.no_grad():
        net(x)

    counts = units_per_block(v, scope)
    assert [len(getattr(net, f"block{b}")) for b in range(1, 5)] == counts
    assert_close(nhwc(seen["conv1"][1]), np_conv_bn(nhwc(x), v, f"{scope}/conv1", 2, same=True), 1e-10)
    assert_close(nhwc(seen["block1/unit_1"][0]), np_max_pool_same(nhwc(seen["conv1"][1]), 3, 2), 1e-12)
    for b, count in enumerate(counts, start=1):
        for u in range(1, count + 1):
            key = f"block{b}/unit_{u}"
            unit_in, unit_out = seen[key]
            stride = 2 if b < 4 and u == count else 1
            assert_close(nhwc(unit_out), np_unit(nhwc(unit_in), v, f"{scope}/{key}", stride), 1e-10)
    logits_in, logits_out = seen["logits"]
    last = seen[f"block4/unit_{counts[3]}"][1]
    assert_close(nhwc(logits_in), nhwc(last).mean(axis=(1, 2), keepdims=True), 1e-12)
    w, bias = v[f"{scope}/logits/weights"][0, 0], v[f"{scope}/logits/biases"]
    assert_close(logits_out.flatten(1).numpy(), nhwc(logits_in)[:, 0, 0] @ w + bias, 1e-12)


def test_full_resnet50_embed_matches_reference_float32() -> None:
    """The real layout (depth 50, width 1) end to end, preprocessing included."""
    rng = np.random.default_rng(0)
    model = AestheticResNet(50, input_size=(64, 64), mean=rng.uniform(90, 130, (3, 64, 64)))
    v = random_variables(model.net, rng)
    model.net.load_state_dict(state_dict_from_slim(v))
    frames = torch.from_numpy(rng.integers(0, 256, (2, 3, 64, 64), dtype=np.uint8))
    with torch.no_grad():
        embedding = model.embed(frames)
    assert embedding.dtype == torch.float32 and embedding.shape == (2, 1000)
    image = frames.double().numpy() - model.mean.double().numpy()
    expected = np_resnet(image.transpose(0, 2, 3, 1), v, "resnet_v1_50")["logits"]
    assert_close(embedding.numpy(), expected, 1e-4)
    assert not np.allclose(embedding.numpy(), expected, rtol=1e-6, atol=0)  # truly float32


# --- conversion -------------------------------------------------------------

@pytest.mark.skipif(not AUTHORS_INDEX.exists(), reason="authors' checkpoint index not present")
def test_variables_are_exactly_the_released_checkpoint() -> None:
    shapes = checkpoint_shapes(AUTHORS_INDEX)
    assert len(shapes) == 267
    net = ResNetV1(50)
    ours = slim_variables_from_state_dict(net.state_dict())
    assert {name: value.shape for name, value in ours.items()} == shapes
    zeros = {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}
    net.load_state_dict(state_dict_from_slim(zeros))  # strict: every parameter covered


def test_round_trip_and_layout() -> None:
    net = ResNetV1(18, 0.25)
    v = slim_variables_from_state_dict(net.state_dict(), net.scope)
    assert v["resnet_v1_18/conv1/weights"].shape == (7, 7, 3, 16)
    assert v["resnet_v1_18/block2/unit_1/basic_v1/shortcut/weights"].shape == (1, 1, 16, 32)
    assert "resnet_v1_18/block1/unit_1/basic_v1/shortcut/weights" not in v  # 16 -> 16 channels
    kernel = v["resnet_v1_18/block1/unit_1/basic_v1/conv1/weights"]
    torch_kernel = net.state_dict()["block1.0.conv1.weight"].numpy()
    assert kernel[0, 1, 2, 3] == torch_kernel[3, 2, 0, 1]  # HWIO vs OIHW
    state = state_dict_from_slim(v, "resnet_v1_18")
    for key, value in net.state_dict().items():
        assert torch.equal(state[key], value), key


def base_variables() -> Variables:
    net = ResNetV1(50, 0.125, num_outputs=8)
    return slim_variables_from_state_dict(net.state_dict())


def test_missing_variable_is_reported() -> None:
    v = base_variables()
    del v["resnet_v1_50/block3/unit_2/bottleneck_v1/conv2/BatchNorm/gamma"]
    with pytest.raises(ModelError, match=r"missing 1: .*block3/unit_2/bottleneck_v1/conv2/BatchNorm/gamma"):
        state_dict_from_slim(v)


def test_unexpected_variable_is_reported() -> None:
    v = base_variables()
    v["resnet_v1_50/block4/unit_4/bottleneck_v1/conv1/weights"] = np.zeros((1, 1, 256, 64))
    with pytest.raises(ModelError, match=r"unexpected 1: .*block4/unit_4"):
        state_dict_from_slim(v)


def test_wrong_shape_is_reported() -> None:
    v = base_variables()
    name = "resnet_v1_50/block2/unit_1/bottleneck_v1/shortcut/weights"
    v[name] = v[name].transpose(0, 1, 3, 2)  # OI swapped
    message = r"wrong shape 1: .*shortcut/weights \[1, 1, 64, 32\] \(expected \[1, 1, 32, 64\]\)"
    with pytest.raises(ModelError, match=message):
        state_dict_from_slim(v)


def test_other_architecture_is_rejected() -> None:
    deeper = {name.replace("resnet_v1_50/", "resnet_v1_101/"): value
              for name, value in base_variables().items()}
    with pytest.raises(ModelError, match=r"missing 255: .*block3/unit_7/"):  # 17 units x 15 variables
        state_dict_from_slim(deeper, "resnet_v1_101")
    with pytest.raises(ModelError, match="scope"):
        state_dict_from_slim(base_variables(), "vgg_16")


def test_optimizer_state_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    v = base_variables()
    v["global_step"] = np.array(1000)
    v["resnet_v1_50/logits/weights/Momentum"] = np.zeros((1, 1, 256, 8))
    with caplog.at_level(logging.INFO):
        state = state_dict_from_slim(v)
    assert "logits.weight" in state
    assert "global_step" in caplog.text and "logits/weights/Momentum" in caplog.text


# --- AestheticResNet preprocessing -----------------------------------------

def small_model(mean: MeanLike = MEAN_RGB) -> AestheticResNet:
    torch.manual_seed(0)
    return AestheticResNet(18, 0.125, input_size=(32, 32), mean=mean)


def test_embed_resizes_whole_frame() -> None:
    model = small_model()
    colour = torch.tensor([200, 40, 90], dtype=torch.uint8).view(1, 3, 1, 1)
    with torch.no_grad():
        native = model.embed(colour.expand(1, 3, 32, 32))
        tolerance = 1e-5 * native.abs().max().item()
        other = model.embed(colour.expand(1, 3, 50, 19))  # aspect not kept
        assert torch.allclose(native, other, atol=tolerance)
        frame = torch.randint(0, 256, (1, 3, 48, 80), dtype=torch.uint8)
        resized = F.interpolate(frame.float(), (32, 32), mode="bilinear", antialias=True)
        assert torch.allclose(model.embed(frame), model.embed(resized), atol=tolerance)
        assert not torch.allclose(model.embed(frame), model.embed(frame[:, :, 8:40, 24:56]))


def test_embed_subtracts_mean_in_rgb_order() -> None:
    model = small_model(mean=(10.0, 20.0, 30.0))
    rgb = torch.tensor([10, 20, 30], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    with torch.no_grad():
        zero_input = model.net(torch.zeros(1, 3, 32, 32))
        assert torch.equal(model.embed(rgb), zero_input)
        assert torch.equal(model.embed(rgb.float()), zero_input)
        assert not torch.allclose(model.embed(rgb.flip(1)), zero_input)


def test_mean_image_shapes() -> None:
    image = torch.rand(3, 32, 32) * 255
    assert torch.equal(small_model(mean=image).mean, image)
    assert small_model().mean.shape == (3, 32, 32)
    with pytest.raises(ValueError, match="mean"):
        small_model(mean=np.zeros((3, 224, 224)))
    with pytest.raises(ValueError, match="N x 3"):
        small_model().embed(torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_identity_and_description() -> None:
    model = small_model()
    assert not model.training  # BN must use moving statistics when scoring
    assert model.name == "aesthetic-resnet18"
    assert AestheticResNet(50, 0.125).name == "aesthetic-resnet50"
    assert model.weights_id == "random"
    model.weights_id = "abc123"
    info = model.describe()
    assert info["weights_id"] == "abc123" and info["depth"] == 18 and info["width"] == 0.125
    assert info["input_size"] == [32, 32] and info["embedding_dim"] == 1000
