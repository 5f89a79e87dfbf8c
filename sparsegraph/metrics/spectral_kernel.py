"""The one spectral kernel behind every ``spectral.*`` and ``ramanujan.*`` layer metric (metrics.md §2, §8).

For a layer's rolled biadjacency (a :class:`~sparsegraph.graphs.bipartite.BipartiteGraph`) one pass
computes, in float64:

* the unweighted support ``S`` and the weighted matrix ``A_w = |W_F ⊙ F|`` (support ``S_w``) under a
  convention (``neurips2023``: ``S`` is the mask; ``iclr2023``: ``S = {F ⊙ W_F ≠ 0}``);
* their sizes after isolated-node removal, edge counts, the exact-integer threshold decision, and their
  top two singular values ``σ1 ≥ σ2``;
* the fan-out groups of ``S`` (one stable argsort by fan-out, segment boundaries from ``unique``), with
  ``c``, ``n_out(K)``, the kept/valid rules, the Cheeger-like factor, ``σ1/σ2`` of every valid mask block
  ``B_K`` and of its weighted block ``W_K``, and the weighted group test.

Singular values never come from the ``(nL+nR)²`` adjacency. Exact shortcuts come first (complete
unweighted block: ``σ1 = sqrt(E)``, ``σ2 = 0``; one side of size 1: ``σ1 = ||X||_F``, ``σ2 = 0``).
Otherwise, with ``m = min(nL', nR') ≤ 1024``, the matrix is queued as COO entries oriented so that its rows
are the smaller side; every queued matrix of all layers passed to :func:`prepare` is solved together
by the array backend of :mod:`~sparsegraph.metrics.spectral_solvers` (one block-diagonal sparse product
for all Gram matrices, then their top two eigenvalues: on the host LAPACK per matrix, or for sides
≥ ``KRYLOV_MIN`` under ``solver="auto"`` a batched lock-step Lanczos; one batched ``eigvalsh`` per
power-of-two bucket on a torch device). The weighted σ pairs form a second such batch,
solved the first time a weighted quantity is read (the ICLR family never needs them); a graph without
weights copies them from the mask solve. Larger problems run seeded Lanczos (ARPACK on the host, block
Lanczos on a torch device). The group blocks of one layer are queued without copying: the group rows
are contiguous after the fan-out sort and their columns are relabelled to the group's reached outputs,
so each block ``B_K`` (or ``B_Kᵀ`` when ``c > n_out``) is a set of entries with local indices.

``device=None`` is the host (NumPy/SciPy) route; a torch device (``"cuda"``, or ``"cpu"`` for the same
code on CPU tensors) is the torch route.

Within one ``measure`` call the immutable :class:`LayerSpectra` records are kept in the current
:class:`~sparsegraph.metrics.cache.MetricCache` under ``("spectral_kernel.layer", graph key, convention,
solver, route)``; :func:`prepare` is the batch preparer that fills it for all layers at once, and every
``spectral.*`` and ``ramanujan.*`` metric reads its layer's record from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sparsegraph.errors import MetricError, UsageError
from sparsegraph.metrics.cache import MetricCache, current_cache
from sparsegraph.metrics.spectral_solvers import KRYLOV_MIN, HostBackend, TorchBackend

Backend = HostBackend | TorchBackend

CONVENTIONS = ("neurips2023", "iclr2023")
SOLVERS = ("auto", "dense", "gram", "lanczos")
GRAM_MAX = 1024  # largest min-side solved by a dense Gram eigvalsh (metrics.md §8)
LANCZOS_MIN = 8  # smaller sides up to this solve by dense SVD even under solver="lanczos"


# --------------------------------------------------------------------------------------------------
# records


class _Deferred:
    """A σ batch solved on first use.

    The weighted σ pairs are needed only by ``spectral.lambda``, ``spectral.lambda_imsg`` and
    ``spectral.full_spectrum``; they are queued for all layers of one pass and solved together the first
    time any of them is read.
    """

    def __init__(self, batch: "_SigmaBatch"):
        self._batch: _SigmaBatch | None = batch

    def ensure(self) -> None:
        if self._batch is not None:
            self._batch.solve()
            self._batch = None


@dataclass(frozen=True)
class SupportStats:
    """Whole-layer statistics of one support (``S`` or ``S_w``) after isolated-node removal.

    Attributes:
        num_edges: ``E``.
        num_left: ``nL'`` (non-isolated inputs).
        num_right: ``nR'`` (non-isolated outputs).
        sigma1, sigma2: top two singular values (None when ``E = 0``).
        threshold_ok: whether ``T(X)`` passes under the convention.
        threshold_reason: why it fails (None when it passes).
    """

    num_edges: int
    num_left: int
    num_right: int
    sigma1: float | None
    sigma2: float | None
    threshold_ok: bool
    threshold_reason: str | None

    @property
    def d_in(self) -> float:
        """Mean fan-out ``E/nL'`` of the non-isolated inputs."""
        return self.num_edges / self.num_left if self.num_left else 0.0

    @property
    def d_out(self) -> float:
        """Mean fan-in ``E/nR'`` of the non-isolated outputs."""
        return self.num_edges / self.num_right if self.num_right else 0.0

    @property
    def upper_bound(self) -> float:
        """``ub = sqrt(d_in − 1) + sqrt(d_out − 1)`` (only meaningful when both degrees are ≥ 1)."""
        return math.sqrt(max(self.d_in - 1.0, 0.0)) + math.sqrt(max(self.d_out - 1.0, 0.0))


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class GroupTable:
    """The fan-out groups of ``S`` (one entry per fan-out ``f > 0``, increasing ``f``).

    Every attribute is a 1-D array of length ``G``. σ arrays hold NaN where not computed (groups that
    are not valid, or whose weighted test failed).

    Attributes:
        fan_out: ``f``.
        size: ``c = |K_f|``.
        n_out: ``n_out(K)``, outputs reached by the group.
        kept: ``c ≥ 2`` (neurips2023) or ``c ≥ 3`` (iclr2023).
        valid: kept and the convention's validity rule.
        weight: ``c_K`` (Cheeger-like factor under neurips2023, 1 under iclr2023).
        upper_bound: ``ub_K = sqrt(f−1) + sqrt(d_R(K)−1)``.
        sigma1, sigma2: singular values of the mask block ``B_K``.
        w_rows, w_out, w_edges: nonzero rows, reached outputs and edges of ``W_K``.
        w_valid: the weighted group test (only evaluated on valid groups).
        w_sigma: ``(G, 2)`` singular values of ``W_K``, filled when first read through
            :attr:`w_sigma1`/:attr:`w_sigma2`.
    """

    fan_out: np.ndarray
    size: np.ndarray
    n_out: np.ndarray
    kept: np.ndarray
    valid: np.ndarray
    weight: np.ndarray
    upper_bound: np.ndarray
    sigma1: np.ndarray
    sigma2: np.ndarray
    w_rows: np.ndarray
    w_out: np.ndarray
    w_edges: np.ndarray
    w_valid: np.ndarray
    w_sigma: np.ndarray = field(repr=False)
    deferred: _Deferred = field(repr=False, compare=False)

    @property
    def w_sigma1(self) -> np.ndarray:
        """σ1 of every weighted block ``W_K`` (NaN where not computed)."""
        self.deferred.ensure()
        return self.w_sigma[:, 0]

    @property
    def w_sigma2(self) -> np.ndarray:
        """σ2 of every weighted block ``W_K`` (NaN where not computed)."""
        self.deferred.ensure()
        return self.w_sigma[:, 1]

    def rows(self, *, weighted: bool = False) -> list[dict]:
        """The table as a list of plain dicts (for ``MetricResult.extras``); ``weighted`` adds ``W_K``'s σ."""
        out = []
        for g in range(len(self.fan_out)):
            row = {
                "fan_out": int(self.fan_out[g]), "num_inputs": int(self.size[g]),
                "num_outputs": int(self.n_out[g]), "kept": bool(self.kept[g]),
                "valid": bool(self.valid[g]), "weight": float(self.weight[g]),
                "upper_bound": float(self.upper_bound[g]),
            }
            if self.valid[g]:
                row.update(sigma1=float(self.sigma1[g]), sigma2=float(self.sigma2[g]),
                           w_valid=bool(self.w_valid[g]))
                if weighted and self.w_valid[g]:
                    row.update(w_sigma1=float(self.w_sigma1[g]), w_sigma2=float(self.w_sigma2[g]))
            out.append(row)
        return out


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class LayerSpectra:
    """Everything the layer metrics read, for one graph under one convention.

    Attributes:
        name: the layer name.
        convention: ``neurips2023`` or ``iclr2023``.
        num_left, num_right: the unfiltered sizes ``nL``, ``nR``.
        has_weights: whether the graph carries weights (``graph.weighted``).
        mask: :class:`SupportStats` of ``S``.
        groups: the :class:`GroupTable`.
        fan_out: per-input degree in ``S`` (length ``nL``).
        fan_in: per-output degree in ``S`` (length ``nR``).
        weighted_counts: ``(E, nL', nR', threshold_ok, reason)`` of ``S_w``.
        weighted_sigma: ``(σ1, σ2)`` of ``A_w'``, filled when :attr:`weighted` is first read.
    """

    name: str
    convention: str
    num_left: int
    num_right: int
    has_weights: bool
    mask: SupportStats
    groups: GroupTable
    fan_out: np.ndarray = field(repr=False)
    fan_in: np.ndarray = field(repr=False)
    weighted_counts: tuple = field(repr=False)
    weighted_sigma: np.ndarray = field(repr=False, compare=False)

    @property
    def weighted(self) -> SupportStats:
        """:class:`SupportStats` of ``A_w'`` (``S_w``; the same values as :attr:`mask` when unweighted)."""
        self.groups.deferred.ensure()
        edges, n_left, n_right, ok, reason = self.weighted_counts
        s1, s2 = (None, None) if edges == 0 else (float(self.weighted_sigma[0]), float(self.weighted_sigma[1]))
        return SupportStats(edges, n_left, n_right, s1, s2, ok, reason)

    def extras(self, *, weighted: bool = False, groups: bool = False) -> dict:
        """Supporting numbers for ``MetricResult.extras``: counts, degrees, σ pair, group table.

        Args:
            weighted: describe ``A_w'`` (``S_w``) instead of ``S``.
            groups: include the fan-out group table.
        """
        stats = self.weighted if weighted else self.mask
        out = {
            "convention": self.convention, "support": "weighted" if weighted else "mask",
            "num_edges": stats.num_edges, "num_left": stats.num_left, "num_right": stats.num_right,
            "num_left_total": self.num_left, "num_right_total": self.num_right,
            "d_in": stats.d_in, "d_out": stats.d_out,
            "sigma1": stats.sigma1, "sigma2": stats.sigma2, "threshold_ok": stats.threshold_ok,
        }
        if not weighted:
            out.update(max_fan_out=int(self.fan_out.max(initial=0)), max_fan_in=int(self.fan_in.max(initial=0)))
        if groups:
            out["groups"] = self.groups.rows(weighted=weighted)
            out["num_valid_groups"] = int(self.groups.valid.sum())
        return out


# --------------------------------------------------------------------------------------------------
# thresholds (exact integer arithmetic)


def threshold(num_edges: int, num_left: int, num_right: int, convention: str) -> tuple[bool, str | None]:
    """``T(X)`` of metrics.md §2 in exact integers, with the reason when it fails.

    neurips2023: ``E ≥ 3·nR'`` (mean fan-in ≥ 3) and ``E > nL'`` (mean fan-out > 1).
    iclr2023: ``E ≥ 3·nL'`` (mean fan-out ≥ 3) and ``E ≥ 3·nR'`` (mean fan-in ≥ 3). ``E = 0`` fails.
    """
    if num_edges == 0:
        return False, "empty layer: no edges"
    fan_in = f"{num_edges / num_right:.2f}"
    fan_out = f"{num_edges / num_left:.2f}"
    if convention == "neurips2023":
        if num_edges < 3 * num_right:
            return False, f"threshold: mean fan-in {fan_in} < 3"
        if num_edges <= num_left:
            return False, f"threshold: mean fan-out {fan_out} <= 1"
        return True, None
    if num_edges < 3 * num_left:
        return False, f"threshold: mean fan-out {fan_out} < 3"
    if num_edges < 3 * num_right:
        return False, f"threshold: mean fan-in {fan_in} < 3"
    return True, None


def check_convention(convention: str) -> str:
    """Validate ``convention`` (ValueError naming the accepted values)."""
    if convention not in CONVENTIONS:
        raise UsageError(f"convention {convention!r} is not valid; expected one of: {', '.join(CONVENTIONS)}")
    return convention


# --------------------------------------------------------------------------------------------------
# the eigen batch: σ pairs of many matrices, Gram buckets solved by one eigvalsh each


class _SigmaBatch:
    """Collects σ-pair requests; :meth:`solve` hands every queued Gram problem to the backend at once.

    Each request writes ``(σ1, σ2)`` into ``out[idx]`` (an ``(n, 2)`` float64 array) when solved.
    """

    def __init__(self, solver: str, backend: Backend):
        self.solver = solver
        self.backend = backend
        self.requests: list[tuple] = []

    def add_blocks(self, mat: np.ndarray, row: np.ndarray, col: np.ndarray, val: np.ndarray,
                   m: np.ndarray, n: np.ndarray, out: np.ndarray, idx: np.ndarray) -> None:
        """Queue the Gram problems of ``len(m)`` matrices given by COO entries, rows the smaller side.

        Entry ``e`` is ``X_{mat[e]}[row[e], col[e]] = val[e]``; matrix ``i`` is ``m[i] × n[i]`` with
        ``m[i] ≤ n[i]``; its σ pair goes to ``out[idx[i]]``.
        """
        self.requests.append((mat, row, col, val, m, n, out, np.asarray(idx)))

    def add_matrix(self, x: sp.csr_array, unweighted: bool, out: np.ndarray, idx: int) -> None:
        """Queue (or solve at once) the σ pair of one sparse matrix ``x`` (isolated nodes allowed)."""
        x = sp.csr_array(x, copy=True)
        x.eliminate_zeros()
        x = _drop_isolated(x)
        nl, nr = x.shape
        if x.nnz == 0:
            out[idx] = (0.0, 0.0)
            return
        if unweighted and x.nnz == nl * nr:
            out[idx] = (math.sqrt(x.nnz), 0.0)
            return
        if min(nl, nr) == 1:
            out[idx] = (math.sqrt(float(np.dot(x.data, x.data))), 0.0)
            return
        m = min(nl, nr)
        solver = self.solver
        if solver == "auto":
            solver = "gram" if m <= GRAM_MAX else "lanczos"
        if solver == "lanczos" and m <= LANCZOS_MIN:
            solver = "dense"  # too small for a Krylov space of a few blocks
        if solver == "dense":
            out[idx] = self.backend.dense_pair(x)
        elif solver == "lanczos":
            out[idx] = self.backend.lanczos_pair(x)
        else:
            coo = x.tocoo()
            row, col = (coo.row, coo.col) if nl <= nr else (coo.col, coo.row)
            self.add_blocks(np.zeros(x.nnz, dtype=np.int64), row, col, coo.data, np.array([m]),
                            np.array([max(nl, nr)]), out, np.array([idx]))

    def solve(self) -> None:
        if not self.requests:
            return
        offsets = np.cumsum([0] + [len(r[4]) for r in self.requests])
        mat, row, col, val, m, n = (np.concatenate([np.asarray(r[k]) for r in self.requests]) for k in range(6))
        mat = mat + np.repeat(offsets[:-1], [len(r[0]) for r in self.requests])
        top = self.backend.gram_top_two(mat.astype(np.int64), row.astype(np.int64), col.astype(np.int64),
                                        val.astype(np.float64), m.astype(np.int64), n.astype(np.int64),
                                        krylov_min=KRYLOV_MIN if self.solver == "auto" else None)
        for r, lo, hi in zip(self.requests, offsets[:-1], offsets[1:]):
            r[6][r[7]] = top[lo:hi]
        self.requests.clear()


def _drop_isolated(x: sp.csr_array) -> sp.csr_array:
    rows = np.flatnonzero(np.diff(x.indptr))
    cols = np.flatnonzero(np.bincount(x.indices, minlength=x.shape[1]))
    if len(rows) == x.shape[0] and len(cols) == x.shape[1]:
        return x
    return sp.csr_array(x[rows][:, cols])


# --------------------------------------------------------------------------------------------------
# per-layer preparation


def _supports(graph, convention: str) -> tuple[sp.csr_array, sp.csr_array]:
    """``(S, SW)``: ``S`` as a 0/1 float64 CSR and ``SW`` with the same structure holding ``|w|``."""
    a = graph.arrays
    n_left, n_right = graph.num_left, graph.num_right
    weights = np.asarray(a.weight, dtype=np.float64)
    if graph.weighted and not np.isfinite(weights).all():
        raise MetricError(f"non-finite weights in layer {graph.name}")
    if not graph.weighted:
        weights = np.ones(len(a), dtype=np.float64)
    keep = weights != 0 if (convention == "iclr2023" and graph.weighted) else np.ones(len(a), dtype=bool)
    rows = np.asarray(a.src)[keep]
    cols = np.asarray(a.dst)[keep] - n_left
    w = weights[keep]
    if np.any(rows[1:] < rows[:-1]):  # canonical order is by source already; compat orders may not be
        order = np.argsort(rows, kind="stable")
        rows, cols, w = rows[order], cols[order], w[order]
    indptr = np.zeros(n_left + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_left), out=indptr[1:])
    shape = (n_left, n_right)
    support = sp.csr_array((np.ones(len(rows)), cols.astype(np.int64), indptr), shape=shape)
    weighted = sp.csr_array((w, cols.astype(np.int64), indptr.copy()), shape=shape)
    return support, weighted


def _stats(x: sp.csr_array, convention: str) -> tuple[int, int, int, bool, str | None]:
    """``(E, nL', nR', T passes, reason)`` of a CSR matrix without explicit zeros."""
    nl = int(np.count_nonzero(np.diff(x.indptr)))
    nr = int(np.count_nonzero(np.bincount(x.indices, minlength=x.shape[1])))
    ok, reason = threshold(x.nnz, nl, nr, convention)
    return x.nnz, nl, nr, ok, reason


class _LayerWork:
    """Intermediate state of one layer while its σ requests are queued."""

    def __init__(self, graph, convention: str, batch: _SigmaBatch, weighted_batch: _SigmaBatch):
        self.graph = graph
        self.convention = convention
        s, sw = _supports(graph, convention)
        aw = sp.csr_array(sw.copy())
        aw.eliminate_zeros()
        self.s_stats = _stats(s, convention)
        self.w_stats = _stats(aw, convention)
        self.whole = np.full((2, 2), np.nan)  # row 0: S, row 1: A_w
        if self.s_stats[0]:
            batch.add_matrix(s, True, self.whole, 0)
        # without weights A_w = S and every W_K = B_K: their σ are copied from the mask solve in finish()
        self.copy_weighted = not graph.weighted
        if self.w_stats[0] and not self.copy_weighted:
            weighted_batch.add_matrix(aw, False, self.whole, 1)
        self.fan_out = np.diff(s.indptr)
        self.fan_in = np.bincount(s.indices, minlength=s.shape[1])
        self._groups(s, sw, batch, weighted_batch)

    def _groups(self, s: sp.csr_array, sw: sp.csr_array, batch: _SigmaBatch, weighted_batch: _SigmaBatch) -> None:
        """Fan-out groups of ``S``: table, exact shortcuts, and σ requests for the valid blocks."""
        conv = self.convention
        n_right = s.shape[1]
        order = np.argsort(self.fan_out, kind="stable")
        fs = self.fan_out[order]
        vals, starts, counts = np.unique(fs, return_index=True, return_counts=True)
        positive = vals > 0
        vals, starts, counts = vals[positive], starts[positive], counts[positive]
        n_groups = len(vals)
        first_row = int(starts[0]) if n_groups else len(fs)
        # the rows of groups f > 0, contiguous and grouped; `seg` = group of each row / entry
        rows = order[first_row:]
        xs, xw = s[rows], sw[rows]
        seg_row = np.repeat(np.arange(n_groups), counts)
        seg_entry = np.repeat(seg_row, fs[first_row:])
        keys = seg_entry.astype(np.int64) * n_right + xs.indices
        reached, local_col = np.unique(keys, return_inverse=True)
        n_out = np.bincount(reached // n_right, minlength=n_groups)
        c, f = counts.astype(np.int64), vals.astype(np.int64)
        if conv == "neurips2023":
            kept = c >= 2
            valid = kept & (f >= 3) & (c * f > n_out)
            weight = np.maximum(c, n_out) / (c + n_out - 1)
        else:
            kept = c >= 3
            valid = kept & (f >= 3) & (c * f >= 3 * n_out)
            weight = np.ones(n_groups)
        upper = np.sqrt(np.maximum(f - 1, 0)) + np.sqrt(np.maximum(c * f / np.maximum(n_out, 1) - 1, 0))

        # the weighted blocks W_K: nonzero rows, reached outputs and edges, and the weighted test
        nonzero = xw.data != 0
        w_edges = np.bincount(seg_entry[nonzero], minlength=n_groups)
        row_nnz = np.bincount(np.repeat(np.arange(len(rows)), fs[first_row:])[nonzero], minlength=len(rows))
        w_rows = np.bincount(seg_row[row_nnz > 0], minlength=n_groups)
        if nonzero.all():  # no kept weight is exactly 0: W_K reaches the outputs B_K reaches
            w_out = n_out.copy()
        else:
            w_out = np.bincount(np.unique(keys[nonzero]) // n_right, minlength=n_groups)
        if conv == "neurips2023":
            w_valid = valid & (w_edges >= 3 * w_rows) & (w_edges > w_out)
        else:
            w_valid = valid.copy()  # S_w = S under iclr2023
        self.table = dict(fan_out=f, size=c, n_out=n_out, kept=kept, valid=valid, weight=weight,
                          upper_bound=upper, w_rows=w_rows, w_out=w_out, w_edges=w_edges, w_valid=w_valid)
        self.group_sigma = np.full((n_groups, 2), np.nan)
        self.group_w_sigma = np.full((n_groups, 2), np.nan)

        # exact shortcuts: a complete mask block (f = n_out); a weighted block with one row or column
        complete = valid & (f == n_out)
        self.group_sigma[complete] = np.stack([np.sqrt(c * f)[complete], np.zeros(complete.sum())], axis=1)
        sq = np.bincount(seg_entry, weights=xw.data * xw.data, minlength=n_groups)
        thin = w_valid & ((w_rows == 1) | (w_out == 1))
        self.group_w_sigma[thin] = np.stack([np.sqrt(sq[thin]), np.zeros(thin.sum())], axis=1)

        mask_todo = valid & ~complete
        w_todo = w_valid & ~thin & (not self.copy_weighted)
        side_small = np.minimum(c, n_out)
        use_batch = side_small <= GRAM_MAX if batch.solver == "auto" else np.full(n_groups, batch.solver == "gram")
        seg_start = starts - first_row
        # every entry's row and column inside its own group block
        entry_row = np.repeat(np.arange(len(rows)), fs[first_row:]) - seg_start[seg_entry]
        entry_col = local_col - np.searchsorted(reached, np.arange(n_groups) * n_right)[seg_entry]
        for data, todo, out, unweighted, queue in ((xs.data, mask_todo, self.group_sigma, True, batch),
                                                   (xw.data, w_todo, self.group_w_sigma, False, weighted_batch)):
            chosen = todo & use_batch
            if chosen.any():
                # the Gram of each block's smaller side: transpose the groups with c > n_out
                ids = np.flatnonzero(chosen)
                rank = np.cumsum(chosen) - 1
                keep = chosen[seg_entry] & (data != 0)
                g = seg_entry[keep]
                flip = c[g] > n_out[g]
                er, ec = entry_row[keep], entry_col[keep]
                queue.add_blocks(rank[g], np.where(flip, ec, er), np.where(flip, er, ec), data[keep],
                                 side_small[ids], np.maximum(c, n_out)[ids], out, ids)
            for k in np.flatnonzero(todo & ~use_batch):
                lo = int(seg_start[k])
                block = sp.csr_array((data, xs.indices, xs.indptr), shape=xs.shape)[lo:lo + int(c[k])]
                queue.add_matrix(block, unweighted, out, int(k))

    def finish(self, deferred: _Deferred) -> LayerSpectra:
        """The record, once the mask batch is solved (the weighted σ arrive through ``deferred``)."""
        g = self.graph
        if self.copy_weighted:
            self.whole[1] = self.whole[0]
            copied = self.table["w_valid"]
            self.group_w_sigma[copied] = self.group_sigma[copied]
        s_e, s_l, s_r, s_ok, s_why = self.s_stats
        s1, s2 = (None, None) if s_e == 0 else (float(self.whole[0, 0]), float(self.whole[0, 1]))
        mask = SupportStats(s_e, s_l, s_r, s1, s2, s_ok, s_why)
        groups = GroupTable(**self.table, sigma1=self.group_sigma[:, 0], sigma2=self.group_sigma[:, 1],
                            w_sigma=self.group_w_sigma, deferred=deferred)
        for arr in (self.fan_out, self.fan_in, groups.sigma1, groups.sigma2, *self.table.values()):
            arr.setflags(write=False)
        return LayerSpectra(g.name, self.convention, g.num_left, g.num_right, g.weighted, mask, groups,
                            self.fan_out, self.fan_in, self.w_stats, self.whole[1])


# --------------------------------------------------------------------------------------------------
# public entry points


def backend_for(device) -> Backend:
    """The array backend of ``device``: None → NumPy/SciPy on the host; a torch device → torch there.

    ``BipartiteGraph`` arrays live on the host, so ``None`` (the default) is the host route; ``"cpu"``
    runs the torch route on CPU tensors (the same code as on ``"cuda"``).
    """
    if device is None:
        return HostBackend()
    from sparsegraph.utils.device import resolve_device

    return TorchBackend(resolve_device(device))


def _cache_key(cache: MetricCache, graph, convention: str, solver: str, backend: Backend) -> tuple:
    return ("spectral_kernel.layer", cache.graph_key(graph), convention, solver, backend.key)


def _check_options(convention: str, solver: str) -> None:
    check_convention(convention)
    if solver not in SOLVERS:
        raise UsageError(f"solver {solver!r} is not valid; expected one of: {', '.join(SOLVERS)}")


def _compute(graphs: Sequence, convention: str, solver: str, backend: Backend, *, skip_errors: bool
             ) -> list[LayerSpectra | None]:
    batch, weighted_batch = _SigmaBatch(solver, backend), _SigmaBatch(solver, backend)
    works: list[_LayerWork | None] = []
    for graph in graphs:
        try:
            works.append(_LayerWork(graph, convention, batch, weighted_batch))
        except MetricError:
            if not skip_errors:
                raise
            works.append(None)
    batch.solve()
    deferred = _Deferred(weighted_batch)
    return [None if w is None else w.finish(deferred) for w in works]


def prepare(graphs: Iterable, cache: MetricCache | None = None, *, convention: str = "neurips2023",
            solver: str = "auto", device=None, **_other_options) -> None:
    """Batch preparer of the ``spectral`` and ``ramanujan`` families (see :mod:`sparsegraph.metrics.cache`).

    Computes the :class:`LayerSpectra` of every layer not yet in ``cache`` in one pass: the Gram problems
    of all layers go to the backend together (one sparse product and a LAPACK top-two solve per matrix on
    the host; one batched ``eigvalsh`` per bucket on a torch device). Layers that cannot be
    computed (non-finite weights) are skipped; their per-layer metric call reports the error. Other
    metric options (``aggregate``) are accepted and ignored.

    Args:
        graphs: ``BipartiteGraph`` layers.
        cache: the cache to fill (default: the current one; without any, nothing is kept).
        convention: ``neurips2023`` or ``iclr2023``.
        solver: ``auto``, ``dense``, ``gram`` or ``lanczos``.
        device: None (NumPy/SciPy on the host) or a torch device (the torch route on that device).
    """
    _check_options(convention, solver)
    cache = current_cache() if cache is None else cache
    if cache is None:
        return
    backend = backend_for(device)
    todo = [g for g in graphs if _cache_key(cache, g, convention, solver, backend) not in cache]
    for graph, spectra in zip(todo, _compute(todo, convention, solver, backend, skip_errors=True)):
        if spectra is not None:
            cache[_cache_key(cache, graph, convention, solver, backend)] = spectra


def layer_spectra(graph, *, convention: str = "neurips2023", solver: str = "auto", device=None) -> LayerSpectra:
    """The :class:`LayerSpectra` of one layer, from the current cache when one is open.

    Raises:
        MetricError: the layer has non-finite weights.
    """
    _check_options(convention, solver)
    backend = backend_for(device)
    cache = current_cache()
    if cache is None:
        return _compute([graph], convention, solver, backend, skip_errors=False)[0]  # type: ignore[return-value]
    key = _cache_key(cache, graph, convention, solver, backend)
    if key not in cache:
        cache[key] = _compute([graph], convention, solver, backend, skip_errors=False)[0]
    return cache[key]


def spectra_of(graphs: Sequence, *, convention: str = "neurips2023", solver: str = "auto", device=None
               ) -> list[LayerSpectra]:
    """The :class:`LayerSpectra` of many layers in one batched pass, without any cache.

    Raises:
        MetricError: a layer has non-finite weights.
    """
    _check_options(convention, solver)
    return _compute(list(graphs), convention, solver, backend_for(device), skip_errors=False)  # type: ignore


def sigma_pair(x: sp.sparray, *, unweighted: bool = False, solver: str = "auto", device=None
               ) -> tuple[float, float]:
    """``(σ1, σ2)`` of one sparse nonnegative matrix by the kernel's route (shortcuts, Gram, Lanczos).

    ``device`` selects the backend as in :func:`backend_for`.
    """
    out = np.zeros((1, 2))
    batch = _SigmaBatch(solver, backend_for(device))
    batch.add_matrix(sp.csr_array(x, dtype=np.float64), unweighted, out, 0)
    batch.solve()
    return float(out[0, 0]), float(out[0, 1])
