"""safetensors read/write with NumPy alone (the format is 8-byte little-endian header length,
a JSON header naming each tensor's dtype, shape and byte range, then raw little-endian data), so
the cross-check needs no `safetensors` package."""

import json
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I32": np.dtype("<i4"),
           "I64": np.dtype("<i8"), "F16": np.dtype("<f2")}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


def save(path, tensors):
    """Writes a dict name -> ndarray (f32, f64, i32, i64 or f16)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])  # not ascontiguousarray: it turns shape () into (1,)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        dtype = array.dtype.newbyteorder("<")
        if dtype not in _NAMES:
            raise ValueError(f"{name}: unsupported dtype {array.dtype}")
        blob = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": _NAMES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to a multiple of 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load(path):
    """Reads every tensor of a safetensors file into a dict name -> ndarray."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: truncated ({len(data)} bytes)")
    (size,) = struct.unpack("<Q", data[:8])
    if 8 + size > len(data):
        raise ValueError(f"{path}: header length {size} exceeds the file")
    header = json.loads(data[8:8 + size])
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES[entry["dtype"]]
        start, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if end - start != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize or end > len(body):
            raise ValueError(f"{path}: tensor {name} has bad offsets")
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape).copy()
    return tensors
