"""The two array backends of the spectral kernel: top two singular values of many sparse matrices.

The kernel (:mod:`sparsegraph.metrics.spectral_kernel`) decides *what* to solve (shortcuts, groups, which
route); a backend only does the array work, with the same three entry points:

* :meth:`gram_top_two`: a batch of matrices given as COO entries ``(mat, row, col, val)``, each matrix
  ``X_i`` oriented so that its rows are the smaller side (``m_i ≤ n_i``); returns ``(σ1, σ2)`` of every
  ``X_i`` from the two largest eigenvalues of ``X_i X_iᵀ`` (``σ = sqrt(max(λ, 0))``);
* :meth:`dense_pair`: ``(σ1, σ2)`` by a dense SVD (the ``solver="dense"`` check route);
* :meth:`lanczos_pair`: ``(σ1, σ2)`` by seeded Lanczos on the smaller Gram operator ``v ↦ Xᵀ(Xv)``.

:class:`HostBackend` (``device=None``) runs on NumPy/SciPy: one sparse product ``Z Zᵀ`` of the
block-diagonal stack of every matrix, then, per matrix and at its exact size, LAPACK ``dsyevr`` for only
the two largest eigenvalues (no padding; the Householder tridiagonalisation is the whole cost, so the
work is ``≈ (4/3)·Σ m_i³``), and ARPACK for Lanczos. Under ``solver="auto"`` the kernel passes
``krylov_min``: Grams of that side and more are solved by :func:`krylov_top_two` instead (a lock-step
Lanczos over all of them with deflation; ``dsyevr`` for any it does not converge).

:class:`TorchBackend` (an explicit torch device, ``cpu`` or ``cuda``) keeps everything on that device:
the same block-diagonal product by
``torch.sparse.mm``, the Grams scattered into zero-padded stacks per power-of-two bucket (padding only
adds zero eigenvalues), one batched ``torch.linalg.eigvalsh`` per bucket, and a seeded block Lanczos with
full reorthogonalisation instead of ARPACK; only the σ pairs are copied back.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg.lapack import dsyevr

from sparsegraph.utils.sparse_matvec import csr_matvec
from sparsegraph.utils.threads import serial_kernel

LANCZOS_NCV = 20
LANCZOS_TOL = 1e-12
LANCZOS_BLOCK = 4  # block size of the torch Lanczos: finds a top eigenvalue of multiplicity up to 4
LANCZOS_CHECK_EVERY = 4  # block steps between convergence checks of the torch Lanczos

KRYLOV_MIN = 128  # host route, solver "auto": Gram sides from which the batched Lanczos replaces dsyevr
KRYLOV_MAX_STEPS = 300  # lock-step Lanczos steps before a block falls back to dsyevr
KRYLOV_TOL_TOP = 1e-9  # residual ‖G u − θ1 u‖ ≤ tol·θ1 for the top pair (its vector is deflated)
KRYLOV_TOL_SECOND = 1e-8  # residual ≤ tol·θ1 for the top of the deflated operator (λ2)
KRYLOV_FIRST_CHECK, KRYLOV_CHECK_EVERY = 20, 10  # steps before the first convergence check, and between
KRYLOV_CHUNK_ROWS = 1 << 16  # padded rows (blocks × largest side) solved in one lock-step run


def _start_vectors(n: int, columns: int | None = None) -> np.ndarray:
    """The seeded start ``default_rng(0).standard_normal`` (never a ones vector; metrics.md §7)."""
    shape = n if columns is None else (n, columns)
    return np.random.default_rng(0).standard_normal(shape)


def _top_two(eigenvalues: np.ndarray) -> tuple[float, float]:
    """``(σ1, σ2)`` from the two largest Gram eigenvalues in any order."""
    lo, hi = sorted(float(v) for v in eigenvalues[:2])
    return math.sqrt(max(hi, 0.0)), math.sqrt(max(lo, 0.0))


def _starts(sizes: np.ndarray) -> np.ndarray:
    """Offsets of consecutive blocks of the given sizes in the block-diagonal stack (length ``B + 1``)."""
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def bucket_size(m: int) -> int:
    """Power-of-two padding size of an ``m × m`` Gram matrix in the torch backend."""
    return max(2, 1 << (int(m) - 1).bit_length())


class HostBackend:
    """NumPy/SciPy backend: sparse Gram products, LAPACK ``dsyevr`` top-two subsets, ARPACK Lanczos."""

    key = "host"

    def gram_top_two(self, mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray,
                     m: np.ndarray, n: np.ndarray, krylov_min: int | None = None) -> np.ndarray:
        """``(B, 2)`` σ pairs of the ``B = len(m)`` matrices given by their COO entries (see module doc).

        ``krylov_min``: matrices whose smaller side is at least this run the batched Lanczos of
        :func:`krylov_top_two` (those it does not converge fall back to ``dsyevr``); None solves every
        Gram densely.
        """
        out = np.empty((len(m), 2))
        dense = np.ones(len(m), dtype=bool)
        with serial_kernel():
            if krylov_min is not None and (m >= krylov_min).any():
                large = m >= krylov_min
                pairs, converged = krylov_top_two(*_subset(large, mat, row, col, val, m, n))
                ids = np.flatnonzero(large)
                out[ids[converged]] = pairs[converged]
                dense[ids[converged]] = False
            if dense.any():
                out[dense] = self._dense_grams(*_subset(dense, mat, row, col, val, m, n))
        return out

    def _dense_grams(self, mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray, m: np.ndarray,
                     n: np.ndarray) -> np.ndarray:
        """σ pairs from the dense Gram matrices: one sparse product, then ``dsyevr`` per matrix."""
        row_start, col_start = _starts(m), _starts(n)
        z = sp.csr_array((val, (row_start[mat] + row, col_start[mat] + col)), shape=(row_start[-1], col_start[-1]))
        gram = sp.csr_array(z @ z.T)  # block diagonal: block i is X_i X_iᵀ
        gram_rows = np.repeat(np.arange(row_start[-1]), np.diff(gram.indptr))
        out = np.empty((len(m), 2))
        self._solve_grams(gram, gram_rows, row_start, m, out)
        return out

    @staticmethod
    def _solve_grams(gram: sp.csr_array, gram_rows: np.ndarray, row_start: np.ndarray, m: np.ndarray,
                     out: np.ndarray) -> None:
        """``out[i]``: the σ pair of block ``i`` of the block-diagonal Gram, by ``dsyevr`` at its exact size."""
        for i, size in enumerate(m.tolist()):
            lo, hi = gram.indptr[row_start[i]], gram.indptr[row_start[i + 1]]
            # Fortran order, so LAPACK works in place instead of on a transposed copy (the Gram is
            # symmetric: either layout holds the same matrix); its lower triangle is read (≈ 10 % faster)
            dense = np.zeros((size, size), order="F")
            dense[gram_rows[lo:hi] - row_start[i], gram.indices[lo:hi] - row_start[i]] = gram.data[lo:hi]
            # a subset solve: only the top two eigenvalues of the tridiagonal form, not all of them
            values = dsyevr(dense, compute_v=0, range="I", il=max(1, size - 1), iu=size, lower=1,
                            overwrite_a=1)[0]
            out[i] = _top_two(values) if size > 1 else (math.sqrt(max(values[0], 0.0)), 0.0)

    def dense_pair(self, x: sp.csr_array) -> tuple[float, float]:
        """``(σ1, σ2)`` by dense SVD."""
        s = np.linalg.svd(x.toarray(), compute_uv=False)
        return float(s[0]), float(s[1]) if len(s) > 1 else 0.0

    def lanczos_pair(self, x: sp.csr_array) -> tuple[float, float]:
        """Seeded ARPACK ``eigsh`` (``k=3``, ``tol=1e-12``) on ``v ↦ Xᵀ(Xv)`` (or ``X(Xᵀv)``)."""
        from scipy.sparse.linalg import LinearOperator, eigsh

        forward, backward = csr_matvec(x), csr_matvec(sp.csr_array(x.T))
        if x.shape[1] <= x.shape[0]:
            n = x.shape[1]
            matvec = lambda v: backward(forward(v))  # noqa: E731
        else:
            n = x.shape[0]
            matvec = lambda v: forward(backward(v))  # noqa: E731
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        with serial_kernel():  # ARPACK's BLAS work is on a few vectors
            vals = eigsh(op, k=3, which="LA", v0=_start_vectors(n), tol=LANCZOS_TOL,
                         ncv=min(n, max(LANCZOS_NCV, 7)), return_eigenvectors=False)
        return _top_two(np.sort(vals)[::-1])


def _subset(chosen: np.ndarray, mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray,
            m: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """The COO batch restricted to the matrices with ``chosen[i]``, renumbered ``0 … chosen.sum() − 1``."""
    if chosen.all():
        return mat, row, col, val, m, n
    keep = chosen[mat]
    rank = np.cumsum(chosen) - 1
    return rank[mat[keep]], row[keep], col[keep], val[keep], m[chosen], n[chosen]


def krylov_top_two(mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray, m: np.ndarray,
                   n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ pairs of many sparse matrices by lock-step Lanczos on their Gram operators, with deflation.

    The matrices (COO entries as in :meth:`HostBackend.gram_top_two`, rows the smaller side) are stacked
    block-diagonally in a zero-padded ``(blocks, P)`` layout, so that one pair of sparse products
    ``v ↦ Z(Zᵀv)`` applies every Gram operator ``X_i X_iᵀ`` at once and every per-block inner product is a
    row sum. Two plain (three-term) Lanczos runs, every block in lock step:

    1. from ``v0 = default_rng(0).standard_normal(m_i)``: the top Ritz pair ``(θ1, u1)`` of each block,
       until ``β_k·|s_k| ≤ 1e-10·θ1`` (the residual ``‖G u1 − θ1 u1‖``);
    2. on the deflated operator ``(I − u1u1ᵀ) G (I − u1u1ᵀ)`` from the same ``v0``: its top Ritz value
       ``θ2 = λ2`` (``λ1`` again when the top eigenvalue is repeated), until ``β_k·|s_k| ≤ 1e-9·θ1``.

    Only extreme Ritz values are read, which plain Lanczos delivers without reorthogonalisation (the
    lost orthogonality only duplicates converged values, never moves the largest one), and the
    error of a Ritz value is at most ``residual² / gap``: far below the 1e-7 solver accuracy of
    metrics.md §7. A block that does not converge within its step limit (``min(m_i, 300)``), or whose
    ``θ2`` exceeds ``θ1`` (a start vector blind to the top eigenvector), is reported unconverged.

    Returns:
        ``(pairs, converged)``: ``(B, 2)`` σ pairs and a bool per matrix.
    """
    pairs = np.zeros((len(m), 2))
    converged = np.zeros(len(m), dtype=bool)
    order = np.argsort(-m, kind="stable")  # similar sizes share a chunk: little padding
    lo = 0
    while lo < len(order):  # chunks of at most KRYLOV_CHUNK_ROWS padded rows (the basis memory)
        hi = lo + max(1, KRYLOV_CHUNK_ROWS // int(m[order[lo]]))
        chosen = np.zeros(len(m), dtype=bool)
        chosen[order[lo:hi]] = True
        pairs[chosen], converged[chosen] = _krylov_chunk(*_subset(chosen, mat, row, col, val, m, n))
        lo = hi
    return pairs, converged


def _krylov_chunk(mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray, m: np.ndarray,
                  n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    blocks, width = len(m), int(m.max())
    col_start = _starts(n)
    z = sp.csr_array((val, (mat * width + row, col_start[mat] + col)), shape=(blocks * width, col_start[-1]))
    gram = csr_matvec(z @ z.T)  # block diagonal, padded: one product per step beats Z(Zᵀv)

    def apply(v: np.ndarray) -> np.ndarray:
        return gram(v).reshape(blocks, width)

    valid = np.arange(width)[None, :] < m[:, None]
    start = np.where(valid, _start_vectors(width)[None, :], 0.0)  # default_rng(0) draws are prefixes
    limit = np.minimum(m, KRYLOV_MAX_STEPS)
    theta1, u1, ok1 = _lockstep_lanczos(apply, start, limit, KRYLOV_TOL_TOP, keep_vectors=True)
    theta2, _, ok2 = _lockstep_lanczos(apply, start, limit, KRYLOV_TOL_SECOND, scale=theta1, deflate=u1)
    ok = ok1 & ok2 & (theta2 <= theta1 * (1 + 1e-12))
    sigma = np.sqrt(np.maximum(np.stack([theta1, np.minimum(theta2, theta1)], axis=1), 0.0))
    return sigma, ok


def _lockstep_lanczos(apply, start: np.ndarray, limit: np.ndarray, tol: float, *, scale: np.ndarray | None = None,
                      deflate: np.ndarray | None = None, keep_vectors: bool = False
                      ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Top Ritz value (and unit Ritz vector) of every block of a block-diagonal operator, in lock step.

    Args:
        apply: ``(blocks, P) → (blocks, P)``, the operator on every block.
        start: start vectors (zero in the padding).
        limit: per-block step limit.
        tol: converged when ``β_k·|s_k| ≤ tol·scale`` (``scale``: the block's top eigenvalue; default the
            Ritz value itself).
        deflate: unit vectors ``u`` per block; the operator becomes ``(I − uuᵀ) A (I − uuᵀ)``.
        keep_vectors: keep the Lanczos basis and return the converged Ritz vectors.

    Returns:
        ``(theta, vectors, converged)``.
    """
    from scipy.linalg import eigh_tridiagonal

    def project(w: np.ndarray) -> np.ndarray:
        if deflate is not None:
            w -= deflate * np.einsum("bp,bp->b", deflate, w)[:, None]
        return w

    blocks = start.shape[0]
    steps = int(limit.max())
    q = project(start.copy())
    q /= np.sqrt(np.einsum("bp,bp->b", q, q))[:, None]
    q_prev, beta_prev = np.zeros_like(q), np.zeros(blocks)
    alpha, beta = np.zeros((steps, blocks)), np.zeros((steps, blocks))
    basis: list[np.ndarray] = []
    theta, done = np.zeros(blocks), np.zeros(blocks, dtype=bool)
    vectors = np.zeros_like(q) if keep_vectors else None
    for j in range(steps):
        if keep_vectors:
            basis.append(q)
        w = project(apply(q))
        alpha[j] = np.einsum("bp,bp->b", q, w)
        w -= alpha[j][:, None] * q
        w -= beta_prev[:, None] * q_prev
        beta[j] = np.sqrt(np.einsum("bp,bp->b", w, w))
        k = j + 1
        if k >= KRYLOV_FIRST_CHECK and ((k - KRYLOV_FIRST_CHECK) % KRYLOV_CHECK_EVERY == 0 or k == steps
                                        or bool((limit[~done] == k).any())):
            for b in np.flatnonzero(~done & (limit >= k)):
                value, vector = eigh_tridiagonal(alpha[:k, b], beta[:k - 1, b], select="i",
                                                 select_range=(k - 1, k - 1))
                bound = tol * (value[0] if scale is None else scale[b])
                if abs(beta[j, b] * vector[-1, 0]) <= bound:
                    theta[b], done[b] = value[0], True
                    if keep_vectors:
                        u = vector[:, 0] @ np.stack([v[b] for v in basis])
                        vectors[b] = u / np.linalg.norm(u)
            if bool((done | (limit <= k)).all()):
                break
        scale_q = np.where(beta[j] > 0, beta[j], 1.0)
        q_prev, q, beta_prev = q, w / scale_q[:, None], beta[j]
    return theta, vectors, done


class TorchBackend:
    """Torch backend on one device: sparse Gram product, batched ``eigvalsh`` per bucket, block Lanczos.

    Args:
        device: the torch device (``cpu`` runs the same code path on CPU tensors).
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.key = str(device)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array).to(self.device)

    def gram_top_two(self, mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray,
                     m: np.ndarray, n: np.ndarray, krylov_min: int | None = None) -> np.ndarray:
        """``(B, 2)`` σ pairs: one sparse product on the device, one batched ``eigvalsh`` per bucket.

        ``krylov_min`` is accepted for the host signature and ignored: a batched ``eigvalsh`` is the
        fast route on a device.
        """
        row_start, col_start = _starts(m), _starts(n)
        index = self._tensor(np.stack([row_start[mat] + row, col_start[mat] + col]))
        z = torch.sparse_coo_tensor(index, self._tensor(val), size=(int(row_start[-1]), int(col_start[-1])),
                                    check_invariants=False).coalesce()
        with warnings.catch_warnings():  # sparse @ sparse goes through CSR, which warns that it is "beta"
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
            gram = torch.sparse.mm(z, z.t().coalesce()).coalesce()  # block diagonal: block i is X_i X_iᵀ
        g_row, g_col = gram.indices()
        starts = self._tensor(row_start)
        g_mat = torch.searchsorted(starts, g_row, right=True) - 1
        g_row, g_col = g_row - starts[g_mat], g_col - starts[g_mat]
        buckets = np.array([bucket_size(v) for v in m.tolist()], dtype=np.int64)
        g_bucket = self._tensor(buckets)[g_mat]
        slot = torch.empty(len(m), dtype=torch.int64, device=self.device)
        pieces, order = [], []
        for p in np.unique(buckets).tolist():
            members = np.flatnonzero(buckets == p)
            slot[self._tensor(members)] = torch.arange(len(members), device=self.device)
            hit = g_bucket == p
            stack = torch.zeros((len(members), p, p), dtype=torch.float64, device=self.device)
            stack[slot[g_mat[hit]], g_row[hit], g_col[hit]] = gram.values()[hit]
            top = torch.linalg.eigvalsh(stack)[:, -2:].flip(-1)
            pieces.append(top.clamp_min(0).sqrt())
            order.append(members)
        out = np.empty((len(m), 2))
        out[np.concatenate(order)] = torch.cat(pieces).cpu().numpy()  # the only copy back: the σ pairs
        return out

    def dense_pair(self, x: sp.csr_array) -> tuple[float, float]:
        """``(σ1, σ2)`` by ``torch.linalg.svdvals`` on the device."""
        s = torch.linalg.svdvals(self._tensor(x.toarray()))
        top = s[:2].cpu().numpy()
        return float(top[0]), float(top[1]) if len(top) > 1 else 0.0

    def _sparse(self, x: sp.csr_array) -> torch.Tensor:
        coo = x.tocoo()
        indices = self._tensor(np.stack([coo.row, coo.col]).astype(np.int64))
        return torch.sparse_coo_tensor(indices, self._tensor(coo.data.astype(np.float64)), size=x.shape,
                                       check_invariants=False).coalesce()

    def lanczos_pair(self, x: sp.csr_array) -> tuple[float, float]:
        """Seeded block Lanczos with full reorthogonalisation on ``V ↦ Xᵀ(XV)`` (or ``X(XᵀV)``).

        Block size :data:`LANCZOS_BLOCK` (a top eigenvalue repeated up to that many times is found); the
        start block is ``default_rng(0).standard_normal((n, 4))``. It stops when the residual bounds
        ``‖B_{k+1} s_i‖`` of the two top Ritz pairs are ≤ ``1e-12·θ1``; if the Krylov space fills up
        first (small ``n`` only), the dense Gram is solved on the device instead.
        """
        a, at = self._sparse(x), self._sparse(sp.csr_array(x.T))
        if x.shape[1] <= x.shape[0]:
            n, apply = x.shape[1], lambda v: at @ (a @ v)  # noqa: E731
        else:
            n, apply = x.shape[0], lambda v: a @ (at @ v)  # noqa: E731
        b = LANCZOS_BLOCK
        q, _ = torch.linalg.qr(self._tensor(_start_vectors(n, b)))
        basis = [q]
        diag, off = [], []  # block tridiagonal T: diagonal blocks A_j, subdiagonal blocks B_{j+1}
        steps = n // b - 1  # every basis block stays full rank
        for j in range(steps):
            w = apply(basis[-1])
            alpha = basis[-1].T @ w
            alpha = (alpha + alpha.T) / 2
            w = w - basis[-1] @ alpha - (basis[-2] @ off[-1].T if off else 0)
            stacked = torch.cat(basis, dim=1)
            for _ in range(2):  # full reorthogonalisation, twice is enough (Kahan–Parlett)
                w = w - stacked @ (stacked.T @ w)
            q, beta = torch.linalg.qr(w)
            diag.append(alpha)
            off.append(beta)
            basis.append(q)
            if (j + 1) % LANCZOS_CHECK_EVERY:
                continue
            theta, s = torch.linalg.eigh(_block_tridiagonal(diag, off))
            residual = torch.linalg.vector_norm(beta @ s[-b:, -2:], dim=0)
            if bool((residual <= LANCZOS_TOL * theta[-1].abs()).all()):
                return _top_two(theta[-2:].cpu().numpy())
        # not converged before the Krylov space filled up (small n only): the dense Gram on the device
        gram = apply(torch.eye(n, dtype=torch.float64, device=self.device))
        return _top_two(torch.linalg.eigvalsh((gram + gram.T) / 2)[-2:].cpu().numpy())


def _block_tridiagonal(diag: list[torch.Tensor], off: list[torch.Tensor]) -> torch.Tensor:
    """``T`` with diagonal blocks ``diag[i]`` and off-diagonal blocks ``off[i]`` (below) / ``off[i]ᵀ`` (above)."""
    b, k = diag[0].shape[0], len(diag)
    t = torch.zeros((k * b, k * b), dtype=diag[0].dtype, device=diag[0].device)
    for i in range(k):
        t[i * b:(i + 1) * b, i * b:(i + 1) * b] = diag[i]
        if i + 1 < k:
            t[(i + 1) * b:(i + 2) * b, i * b:(i + 1) * b] = off[i]
            t[i * b:(i + 1) * b, (i + 1) * b:(i + 2) * b] = off[i].T
    return t
