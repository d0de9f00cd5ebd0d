"""JSON output of the command line: strict JSON (no NaN tokens) that any parser reads."""
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
