"""Content hashes: the short hash of settings and inputs in every cache key, and a file's sha256."""

from __future__ import annotations

import hashlib
import json


def stable_hash(obj) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def array_sha256(a) -> str:
    """sha256 of a numpy array's bytes (C order), e.g. a list of window starts."""
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
