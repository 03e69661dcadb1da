"""The frame: the one picture type engines yield, safety checks and encoders consume.

A frame is a ``numpy.ndarray`` of shape ``(height, width, 3)``, dtype ``uint8``, RGB,
C-contiguous. Decoded input images have the same type (at their own size).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
