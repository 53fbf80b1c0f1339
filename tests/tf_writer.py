"""Writing TF-slim checkpoints, for tests: the inverse of the library's reader and converter.

vidaesthetic only ever reads checkpoints (the authors' release); tests need
to write them to make synthetic releases, damaged indexes and round trips.
The writer follows the reader's constants in
:mod:`vidaesthetic.models.tf_checkpoint`, so both speak one format.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch

from vidaesthetic.models.slim_convert import depth_of, slim_name
from vidaesthetic.models.slim_resnet import LAYOUTS
from vidaesthetic.models.tf_checkpoint import (
    _BUNDLE_VERSION, _BYTES, _DTYPES, _FIXED32, _FOOTER_LEN, _MAGIC, _VARINT, _masked_crc,
)

BLOCK_SIZE = 4096  # LevelDB's default data block size; any size is valid
RESTART_INTERVAL = 16  # keys between full (not prefix-compressed) keys
TF_DTYPES = {dtype: number for number, dtype in _DTYPES.items()}


def slim_variables_from_state_dict(state_dict: Mapping[str, torch.Tensor],
                                   scope: str = "resnet_v1_50") -> dict[str, np.ndarray]:
    """The inverse of ``state_dict_from_slim``: slim names and HWIO arrays."""
    unit_scope = LAYOUTS[depth_of(scope)][0].scope
    variables: dict[str, np.ndarray] = {}
    for key, tensor in state_dict.items():
        name = slim_name(key, scope, unit_scope)
        if name is not None:
            array = tensor.detach().cpu().numpy()
            variables[name] = np.ascontiguousarray(array.transpose(2, 3, 1, 0) if array.ndim == 4 else array)
    return variables


def write_checkpoint(prefix: os.PathLike | str, tensors: Mapping[str, np.ndarray]) -> None:
    """Write ``tensors`` as a V2 checkpoint: ``PREFIX.index`` and one data shard."""
    prefix = os.fspath(prefix)
    shard = bytearray()
    records = [(b"", encode_header())]
    for name in sorted(tensors, key=str.encode):
        if not name:
            raise ValueError("tensor names must be non-empty: the empty key holds the header")
        array = np.asarray(tensors[name])
        dtype = array.dtype.newbyteorder("<")
        if dtype not in TF_DTYPES:
            raise ValueError(f"tensor {name!r}: dtype {array.dtype} has no TensorFlow equivalent here")
        data = array.astype(dtype, copy=False).tobytes()
        entry = encode_entry(TF_DTYPES[dtype], array.shape, len(shard), len(data), _masked_crc(data))
        records.append((name.encode(), entry))
        shard += data
    # The index goes last, so an interrupted write never leaves an index
    # that points at a partial shard.
    Path(f"{prefix}.data-00000-of-00001").write_bytes(shard)
    Path(f"{prefix}.index").write_bytes(encode_table(records))


def encode_header() -> bytes:
    """A BundleHeaderProto: one shard, little-endian, bundle version 1."""
    return _field_varint(1, 1) + _field_bytes(3, _field_varint(1, _BUNDLE_VERSION))


def encode_entry(dtype: int, shape: Iterable[int], offset: int, size: int, crc: int) -> bytes:
    """A BundleEntryProto for a tensor in shard 0; ``crc`` is the masked CRC32C."""
    dims = b"".join(_field_bytes(2, _field_varint(1, n)) for n in shape)
    return (
        _field_varint(1, dtype)
        + _field_bytes(2, dims)
        + _field_varint(4, offset)
        + _field_varint(5, size)
        + _varint_bytes(6 << 3 | _FIXED32)
        + struct.pack("<I", crc)
    )


def encode_table(items: list[tuple[bytes, bytes]]) -> bytes:
    """A table file holding ``items`` (sorted by key), uncompressed."""
    out = bytearray()
    index = []
    chunk: list[tuple[bytes, bytes]] = []
    chunk_size = 0
    for i, (key, value) in enumerate(items):
        chunk.append((key, value))
        chunk_size += len(key) + len(value)
        if chunk_size >= BLOCK_SIZE or i == len(items) - 1:
            # The last key of a block separates it from the next one.
            index.append((key, _handle_bytes(_append_block(out, _encode_block(chunk, RESTART_INTERVAL)))))
            chunk, chunk_size = [], 0
    metaindex = _append_block(out, _encode_block([], 1))
    index_handle = _append_block(out, _encode_block(index, 1))
    footer = _handle_bytes(metaindex) + _handle_bytes(index_handle)
    return bytes(out + footer.ljust(_FOOTER_LEN - 8, b"\0") + _MAGIC.to_bytes(8, "little"))


def _encode_block(items: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out = bytearray()
    restarts = []
    previous = b""
    for i, (key, value) in enumerate(items):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = len(os.path.commonprefix([previous, key]))
        out += _varint_bytes(shared) + _varint_bytes(len(key) - shared) + _varint_bytes(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    return bytes(out + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts)))


def _append_block(out: bytearray, contents: bytes) -> tuple[int, int]:
    """Append a block and its trailer to ``out``; return the block's handle."""
    offset = len(out)
    out += contents + b"\0"
    out += struct.pack("<I", _masked_crc(bytes(out[offset:])))
    return offset, len(contents)


def _handle_bytes(handle: tuple[int, int]) -> bytes:
    return _varint_bytes(handle[0]) + _varint_bytes(handle[1])


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    """A varint field; zero is proto3's default and is left out."""
    return _varint_bytes(number << 3 | _VARINT) + _varint_bytes(value) if value else b""


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint_bytes(number << 3 | _BYTES) + _varint_bytes(len(payload)) + payload
