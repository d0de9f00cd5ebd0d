"""Where dorlab keeps its files: the calibration store, sweep CSVs, plots.

Precedence: an explicit option (``--data-dir``) > the ``DORLAB_DATA`` environment variable >
``./dorlab-data`` in the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "DORLAB_DATA"
DEFAULT_DIRNAME = "dorlab-data"


def data_dir(option: str | os.PathLike | None = None, *, create: bool = True) -> Path:
    """The data directory (absolute), created unless ``create`` is False.

    Raises ``NotADirectoryError`` when the chosen path exists and is not a directory.
    """
    if option not in (None, ""):
        chosen = Path(option)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = Path.cwd() / DEFAULT_DIRNAME
    chosen = chosen.expanduser().resolve()
    if chosen.exists() and not chosen.is_dir():
        raise NotADirectoryError(f"data directory {chosen} exists and is not a directory")
    if create:
        chosen.mkdir(parents=True, exist_ok=True)
    return chosen
