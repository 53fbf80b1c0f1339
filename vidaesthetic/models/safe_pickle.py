"""Load the authors' mean image without trusting pickle.

The released model expects each frame minus a per-pixel mean image, which the
authors ship as ``mean_bgr.p``: a Python 2 pickle of a numpy array. Unpickling
can run arbitrary code, so this unpickler resolves only the few numpy names
needed to rebuild an ndarray and refuses every other global.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from vidaesthetic.errors import ModelError, PathLike

try:  # numpy's ndarray rebuild helper moved from numpy.core to numpy._core in numpy 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

MEAN_SHAPE = (3, 224, 224)

# Every (module, name) an ndarray pickle refers to, whichever numpy wrote it.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and nothing else that needs a global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None


def load_mean_image(path: PathLike) -> np.ndarray:
    """The mean image from a ``mean_bgr.p`` file: float64, shape (3, 224, 224), BGR as stored.

    Raises ModelError for an unreadable file, a pickle that refers to anything
    but numpy arrays, or an array of the wrong shape, type or values.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            # latin1 maps Python 2 byte strings one-to-one onto str; numpy
            # turns the array data back into bytes the same way.
            value = _ArrayUnpickler(file, encoding="latin1").load()
    except FileNotFoundError:
        raise ModelError("mean image file not found", path) from None
    except OSError as exc:
        raise ModelError(f"cannot read mean image file: {exc.strerror}", path) from exc
    except Exception as exc:  # pickle signals malformed input with many exception types
        raise ModelError(
            f"not a valid mean image pickle ({exc}); use the mean_bgr.p released with the model", path
        ) from None
    if not isinstance(value, np.ndarray) or value.shape != MEAN_SHAPE or value.dtype.kind != "f":
        found = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise ModelError(f"mean image must be a float array of shape {MEAN_SHAPE}, found {found}", path)
    if not np.isfinite(value).all():
        raise ModelError("mean image contains NaN or infinite values", path)
    return np.ascontiguousarray(value, dtype=np.float64)
