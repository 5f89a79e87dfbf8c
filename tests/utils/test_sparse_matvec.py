"""``csr_matvec``: torch's CPU CSR product against SciPy's, on the shapes the eigensolvers use."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sparsegraph.utils.sparse_matvec import csr_matvec


@pytest.mark.parametrize("shape", [(300, 300), (50, 700), (700, 50)])
def test_matches_scipy_with_empty_rows_and_columns(shape):
    rng = np.random.default_rng(0)
    x = sp.random_array(shape, density=0.02, rng=rng, format="csr")
    x = sp.csr_array(x.multiply(rng.random(shape) < 0.7))  # some rows and columns empty
    v = rng.standard_normal(shape[1])
    np.testing.assert_allclose(csr_matvec(x)(v), x @ v, rtol=1e-14, atol=1e-14)


def test_takes_column_vectors_integer_values_and_legacy_matrices():
    x = sp.csr_matrix(np.array([[0, 2, 0], [1, 0, 3]], dtype=np.int64))
    out = csr_matvec(x)(np.array([[1.0], [2.0], [3.0]]))  # ARPACK may hand out (n, 1) arrays
    assert out.dtype == np.float64 and out.tolist() == [4.0, 10.0]


def test_empty_matrix():
    assert csr_matvec(sp.csr_array((3, 4)))(np.ones(4)).tolist() == [0.0, 0.0, 0.0]


def test_torch_csr_takes_int32_indices_on_the_cpu_and_keeps_the_matrix():
    import torch

    from sparsegraph.utils.sparse_matvec import torch_csr

    crow, cols = torch.tensor([0, 2, 3]), torch.tensor([0, 2, 1])
    x = torch_csr(crow, cols, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), (2, 3))
    assert x.crow_indices().dtype == torch.int32 and x.col_indices().dtype == torch.int32
    assert x.to_dense().tolist() == [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]
