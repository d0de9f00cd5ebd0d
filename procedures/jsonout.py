"""JSON output (of the command line and of every file a run writes): strict JSON (no NaN tokens) that any
parser reads, written atomically."""
from __future__ import annotations

import json
import math
from pathlib import PurePath
from typing import Any


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy arrays and scalars -> Python, paths -> str, NaN/inf -> null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **options) -> str:
    """``json.dumps`` of :func:`json_safe` (indent 2 unless given)."""
    options.setdefault("indent", 2)
    return json.dumps(json_safe(value), allow_nan=False, **options)


def write_json_atomic(path, value: Any) -> None:
    """Write :func:`json_safe` of ``value`` to ``path`` so that a reader (or a crash) sees the old file or
    the new one, never half of one: a temporary file, fsynced, then renamed over ``path``."""
    write_text_atomic(path, dumps(value, sort_keys=True) + "\n")


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename): the old file or the new."""
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
