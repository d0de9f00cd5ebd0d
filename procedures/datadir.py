"""Where dorlab keeps its files: the calibration store, sweep CSVs, plots.

Precedence: an explicit option (``--data-dir``) > the ``DORLAB_DATA`` environment variable >
``./dorlab-data`` in the working directory.
"""
from __future__ import annotations

import os
import sqlite3
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


def open_store(option: str | os.PathLike | None, *, write: bool = False, create: bool = False, missing_ok: bool = False):
    """``(store, data directory)``. Only ``create`` (a command that adds calibrations) may create the data
    directory and the store; otherwise the store must exist (``missing_ok``: ``(None, directory)`` instead)
    and, unless ``write``, is opened read-only."""
    from dorlab.calibration.store import DEFAULT_FILENAME, CalibrationStore
    from dorlab.procedures.errors import DorlabError

    root = data_dir(option, create=create)
    path = root / DEFAULT_FILENAME
    if path.exists() and path.is_file() and path.stat().st_size == 0:
        raise DorlabError(f"calibration store {path} is empty (0 bytes): not a calibration store; it was left as "
                          "it is (restore it from a backup, or remove it to start a new store)")
    if not create and not path.exists():
        if missing_ok:
            return None, root
        raise DorlabError(f"no calibration store {path} (calibrate a device first, or pass --data-dir / set "
                          "DORLAB_DATA)")
    try:
        return CalibrationStore.open(root, read_only=not write), root
    except sqlite3.DatabaseError as exc:
        raise DorlabError(f"calibration store {path} is damaged or not a calibration store ({exc}); it was "
                          "left as it is") from exc
