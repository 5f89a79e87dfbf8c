"""PyTorch Geometric ``.pt`` files: ``torch.save`` of a plain dict (graphs.md §5).

``{"format": "sparsegraph.pyg/1", "class": "Data" | "HeteroData", "data": obj.to_dict(), "checksum": ...}``:
it loads with ``torch.load(path, weights_only=True)`` without PyG, and ``Data.from_dict`` /
``HeteroData.from_dict`` rebuild the object. The checksum covers every tensor and value of ``data``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.checksum import KEY, ContentHash, check
from sparsegraph.graphs.convert.pyg import META, node_type_names, relation_names
from sparsegraph.graphs.rebuild import canonical_sets, edge_arrays, rebuild, tables
from sparsegraph.utils.atomic import atomic_torch_save

FORMAT = "sparsegraph.pyg/1"


def write_graph(graph, path: str | os.PathLike, homogeneous: bool = False, needed_bytes: int | None = None) -> None:
    obj = graph.to_pyg(homogeneous)
    data = obj.to_dict()
    payload = {"format": FORMAT, "class": type(obj).__name__, "data": data, KEY: _digest(data)}
    atomic_torch_save(payload, path, needed_bytes)


def _digest(data: Any) -> str:
    digest = ContentHash()

    def feed(name: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            digest.array(name, value.detach().cpu().contiguous().numpy())
        elif isinstance(value, dict):
            for key in sorted(value, key=repr):
                feed(f"{name}/{key!r}", value[key])
        else:
            digest.json([name, value])

    feed("", data)
    return digest.hexdigest()


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def read(path: str | os.PathLike, verify: bool = True):
    payload = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GraphFileError(f"{path}: not a sparsegraph PyG file (format must be {FORMAT!r})")
    data = payload["data"]
    if verify and KEY in payload:
        check(path, payload[KEY], _digest(data), verify)
    if payload.get("class") == "Data":
        meta = data[META]
        ei = _numpy(data["edge_index"])
        sets = _numpy(data["edge_type"]) if "edge_type" in data else np.zeros(ei.shape[1], dtype=np.int32)
        mult = _numpy(data["edge_multiplicity"]) if "edge_multiplicity" in data else None
        arrays = edge_arrays(ei[0], ei[1], _numpy(data["edge_weight"]), _numpy(data["edge_signed_weight"]), sets,
                             mult)
        return rebuild(meta, canonical_sets(arrays))
    if payload.get("class") != "HeteroData":
        raise GraphFileError(f"{path}: unknown PyG class {payload.get('class')!r}")
    meta = data["_global_store"][META]
    partitions, edge_sets = tables(meta)
    type_index = {t: i for i, t in enumerate(node_type_names(partitions))}
    rel_index = {r: i for i, r in enumerate(relation_names(edge_sets))}
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("src", "dst", "w", "sw", "set", "mult")}
    for key, store in data.items():
        if not isinstance(key, tuple):
            continue
        s_type, rel, d_type = key
        ei = _numpy(store["edge_index"]).reshape(2, -1)
        columns["src"].append(ei[0] + partitions[type_index[s_type]].offset)
        columns["dst"].append(ei[1] + partitions[type_index[d_type]].offset)
        columns["w"].append(_numpy(store["edge_weight"]))
        columns["sw"].append(_numpy(store["edge_signed_weight"]))
        columns["set"].append(np.full(ei.shape[1], rel_index[rel], dtype=np.int32))
        if "edge_multiplicity" in store:
            columns["mult"].append(_numpy(store["edge_multiplicity"]))
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()}
    arrays = edge_arrays(cat["src"], cat["dst"], cat["w"], cat["sw"], cat["set"], cat["mult"] if columns["mult"] else None)
    return rebuild(meta, canonical_sets(arrays))
