"""Fast sparse matrix-vector products on the CPU for the iterative eigensolvers.

SciPy's CSR product is a plain C++ loop; torch's CPU CSR ``mv`` (MKL's sparse BLAS where torch ships it,
int32 indices) is ≈ 1.6–1.9× faster on the Gram stacks of the spectral kernel and the MGE adjacencies
of the topometrics; :func:`torch_csr` also builds the 0/1 layer operators of the paths passes. Each
product is an exact float64 row-wise dot product; only the order of the additions inside a row may
differ from SciPy's (last-bit differences).
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch


def csr_matvec(x: sp.csr_array | sp.csr_matrix) -> Callable[[np.ndarray], np.ndarray]:
    """``v ↦ x @ v`` for 1-D float64 ``v``, by torch's CPU CSR product (int32 indices when they fit).

    Args:
        x: a SciPy CSR matrix (its values are used as float64).

    Returns:
        A function from a NumPy vector of length ``x.shape[1]`` to a new NumPy vector of length
        ``x.shape[0]``.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> mv = csr_matvec(sp.csr_array(np.array([[1.0, 2.0], [0.0, 3.0]])))
        >>> mv(np.array([1.0, 1.0])).tolist()
        [3.0, 3.0]
    """
    x = sp.csr_array(x)
    matrix = torch_csr(torch.from_numpy(x.indptr.astype(np.int64)), torch.from_numpy(x.indices.astype(np.int64)),
                       torch.from_numpy(x.data.astype(np.float64)), x.shape)

    def apply(v: np.ndarray) -> np.ndarray:
        vector = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).reshape(-1))
        return torch.mv(matrix, vector).numpy()

    return apply


def torch_csr(crow: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A torch CSR tensor; on the CPU with int32 indices when they fit (MKL's sparse BLAS takes those).

    Args:
        crow: row pointers (length ``size[0] + 1``).
        cols: column indices, sorted within each row.
        values: the entries.
        size: ``(rows, columns)``.
    """
    if crow.device.type == "cpu" and values.numel() < 2**31 and max(size) < 2**31:
        crow, cols = crow.to(torch.int32), cols.to(torch.int32)
    with warnings.catch_warnings():  # torch warns that CSR support is beta on every construction
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, values, size)
