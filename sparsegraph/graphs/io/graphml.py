"""GraphML, written by a streaming writer (graphs.md §5).

UTF-8, directed; one ``<key>`` per §3 attribute (ints ``int``, weights ``double``, names ``string``,
flags ``boolean``); graph attributes that are lists or tables are JSON strings, named in the graph
attribute ``json_attributes``. Nodes ``n<id>`` in id order, then edges in canonical order, then the
graph attribute ``checksum``: the SHA-256 of the decoded edges (ids, float32 weights, sets,
multiplicities) and the partition and edge-set tables, so that it survives a re-save by another tool.
igraph's reader turns ints into doubles; :func:`read` casts them back.
"""

from __future__ import annotations

import json
import os
import re
from itertools import repeat
from typing import Any
from xml.sax.saxutils import escape, unescape

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.checksum import KEY as CHECKSUM_KEY
from sparsegraph.graphs.io.checksum import ContentHash, check
from sparsegraph.graphs.io.text import chunks, float32_strings, open_text
from sparsegraph.graphs.rebuild import edge_arrays, rebuild, tables
from sparsegraph.utils.atomic import atomic_path

NS = "http://graphml.graphdrawing.org/xmlns"
NODE_KEYS = (("partition", "int"), ("layer", "string"), ("index", "int"), ("channel", "int"), ("y", "int"),
             ("x", "int"))
EDGE_KEYS = (("weight", "double"), ("signed_weight", "double"), ("layer", "string"))
JSON_LIST_KEY = "json_attributes"


def _graph_data(attributes: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, GraphML type, text)`` for every graph attribute that is not None."""
    out, as_json = [], []
    for name, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((name, "boolean", "true" if value else "false"))
        elif isinstance(value, int):
            out.append((name, "int" if abs(value) < 2**31 else "long", str(value)))
        elif isinstance(value, float):
            out.append((name, "double", repr(value)))
        elif isinstance(value, str):
            out.append((name, "string", value))
        else:
            out.append((name, "string", json.dumps(value)))
            as_json.append(name)
    out.append((JSON_LIST_KEY, "string", json.dumps(as_json)))
    return out


def _lines(parts: list) -> str:
    """Lines made of constant strings and per-line columns (lists), joined without per-line formatting."""
    n = next(len(p) for p in parts if isinstance(p, list))
    columns = [p if isinstance(p, list) else repeat(p, n) for p in parts]
    return "\n".join(map("".join, zip(*columns))) + "\n"


def write(stream, path: str | os.PathLike, needed_bytes: int | None = None) -> None:
    graph_data = _graph_data(stream.graph_attributes())
    edge_keys = EDGE_KEYS + ((("multiplicity", "int"),) if stream.has_multiplicity else ())
    digest = ContentHash()
    with atomic_path(path, needed_bytes=needed_bytes) as tmp, open_text(tmp, "w", compressed=False) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                  f'<graphml xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                  f'xsi:schemaLocation="{NS} {NS}/1.0/graphml.xsd">\n')
        for name, kind, _ in graph_data:
            out.write(f'<key id="g_{name}" for="graph" attr.name="{name}" attr.type="{kind}"/>\n')
        out.write(f'<key id="g_{CHECKSUM_KEY}" for="graph" attr.name="{CHECKSUM_KEY}" attr.type="string"/>\n')
        for name, kind in NODE_KEYS:
            out.write(f'<key id="v_{name}" for="node" attr.name="{name}" attr.type="{kind}"/>\n')
        for name, kind in edge_keys:
            out.write(f'<key id="e_{name}" for="edge" attr.name="{name}" attr.type="{kind}"/>\n')
        out.write('<graph id="G" edgedefault="directed">\n')
        for name, _, text in graph_data:
            out.write(f'<data key="g_{name}">{escape(text)}</data>\n')
        table = stream.node_table()
        names = np.array([escape(p.name) for p in stream.partitions], dtype=object)
        for lo, hi in chunks(stream.num_nodes):
            values = {key: names[table["partition"][lo:hi]].tolist() if key == "layer" else
                      table[key][lo:hi].astype(str).tolist() for key, _ in NODE_KEYS}
            parts: list = ['<node id="n', np.arange(lo, hi).astype(str).tolist(), '">']
            for key, _ in NODE_KEYS:
                parts += [f'<data key="v_{key}">', values[key], "</data>"]
            out.write(_lines(parts + ["</node>"]))
        for edge_set, a in stream.iter_sets():
            name = escape(edge_set.name)
            for lo, hi in chunks(len(a)):
                values = {"weight": float32_strings(a.weight[lo:hi]).tolist(),
                          "signed_weight": float32_strings(a.signed_weight[lo:hi]).tolist(), "layer": name}
                if stream.has_multiplicity:
                    values["multiplicity"] = a.multiplicity[lo:hi].astype(str).tolist()
                parts = ['<edge source="n', a.src[lo:hi].astype(str).tolist(), '" target="n',
                         a.dst[lo:hi].astype(str).tolist(), '">']
                for key, _ in edge_keys:
                    parts += [f'<data key="e_{key}">', values[key], "</data>"]
                out.write(_lines(parts + ["</edge>"]))
                digest.edges(a.src[lo:hi], a.dst[lo:hi], a.weight[lo:hi], a.signed_weight[lo:hi], edge_set.index,
                             a.multiplicity[lo:hi] if stream.has_multiplicity else None)
        digest.json(_tables(stream.graph_attributes()))
        out.write(f'<data key="g_{CHECKSUM_KEY}">{digest.hexdigest()}</data>\n</graph>\n</graphml>\n')


def _parse_generic(path: str | os.PathLike):
    """Keys, graph data, edge ends and edge data of any GraphML file (streamed with iterparse)."""
    import xml.etree.ElementTree as ET

    keys: dict[str, tuple[str, str, str]] = {}
    graph_data: dict[str, str] = {}
    src: list[str] = []
    dst: list[str] = []
    edge_values: dict[str, list[str]] = {}
    directed = None
    for _, elem in ET.iterparse(path, events=("end",)):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "key":
            keys[elem.get("id")] = (elem.get("for"), elem.get("attr.name"), elem.get("attr.type"))
        elif tag == "edge":
            src.append(elem.get("source"))
            dst.append(elem.get("target"))
            for d in elem:
                edge_values.setdefault(d.get("key"), []).append(d.text or "")
            elem.clear()
        elif tag == "node":
            elem.clear()
        elif tag == "graph":
            directed = elem.get("edgedefault")
            for d in elem.findall(f"{{{NS}}}data"):
                graph_data[d.get("key")] = d.text or ""
    return keys, graph_data, src, dst, edge_values, directed


_KEY = re.compile(r'<key id="([^"]+)" for="([^"]+)" attr.name="([^"]+)" attr.type="([^"]+)"/>')
_GRAPH_DATA = re.compile(r'<data key="(g_[^"]*)">([^<]*)</data>')


def _parse_own(text: str):
    """The same as :func:`_parse_generic` for files in this writer's exact layout, with one regex
    over all edges (ElementTree costs tens of seconds per million edges); None for other layouts."""
    keys = {k: (scope, name, kind) for k, scope, name, kind in _KEY.findall(text)}
    head = re.search(r'<graph id="G" edgedefault="(\w+)">', text)
    if head is None:
        return None
    body = text.find("<node ", head.end())
    graph_data = {k: unescape(v) for k, v in _GRAPH_DATA.findall(text, head.end(), body if body >= 0 else len(text))}
    tail = CHECKSUM_TAIL.search(text)
    if tail is not None:
        graph_data[f"g_{CHECKSUM_KEY}"] = tail.group(1)
    edge_keys = [k for k, _ in EDGE_KEYS] + (["multiplicity"] if "e_multiplicity" in keys else [])
    pattern = re.compile('<edge source="n([0-9]+)" target="n([0-9]+)">'
                         + "".join(f'<data key="e_{k}">([^<]*)</data>' for k in edge_keys) + "</edge>")
    rows = pattern.findall(text)
    if len(rows) != text.count("<edge "):
        return None
    columns = list(zip(*rows)) if rows else [()] * (2 + len(edge_keys))
    edge_values = {f"e_{k}": list(col) for k, col in zip(edge_keys, columns[2:])}
    layer = np.array(edge_values["e_layer"], dtype=str)
    names, inverse = np.unique(layer, return_inverse=True)
    edge_values["e_layer"] = np.array([unescape(x) for x in names.tolist()], dtype=object)[
        inverse.ravel()].tolist()
    return keys, graph_data, list(columns[0]), list(columns[1]), edge_values, head.group(1)


CHECKSUM_TAIL = re.compile(f'<data key="g_{CHECKSUM_KEY}">([^<]*)</data>\\s*</graph>\\s*</graphml>\\s*$')


def _tables(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"partitions": attributes.get("partitions"), "edge_sets": attributes.get("edge_sets")}


def read(path: str | os.PathLike, verify: bool = True):
    with open_text(path, "r") as f:
        text = f.read()
    parsed = _parse_own(text)
    del text
    keys, graph_data, src, dst, edge_values, directed = parsed or _parse_generic(path)
    if directed != "directed":
        raise GraphFileError(f"{path}: not a directed GraphML graph")
    meta: dict[str, Any] = {}
    for key, text in graph_data.items():
        scope, name, kind = keys.get(key, (None, None, None))
        if scope != "graph":
            continue
        meta[name] = {"boolean": lambda t: t.strip().lower() == "true", "int": int, "long": int,
                      "double": float, "float": float}.get(kind, str)(text)
    stored = meta.pop(CHECKSUM_KEY, None)
    for name in json.loads(meta.pop(JSON_LIST_KEY, "[]")):
        meta[name] = json.loads(meta[name])
    _, edge_sets = tables(meta)
    by_name = {name: key for key, (scope, name, _) in keys.items() if scope == "edge"}
    n = len(src)
    if not all(len(edge_values.get(by_name.get(k, ""), [])) == n for k in ("weight", "signed_weight", "layer")):
        raise GraphFileError(f"{path}: every edge needs weight, signed_weight and layer data")
    ids = np.char.lstrip(np.array(src + dst, dtype=str), "n").astype(np.int64)
    set_index = {s.name: s.index for s in edge_sets}
    layer = np.array(edge_values[by_name["layer"]], dtype=str)
    names, inverse = np.unique(layer, return_inverse=True) if n else (np.array([], dtype=str), np.array([], int))
    unknown = [x for x in names.tolist() if x not in set_index]
    if unknown:
        raise GraphFileError(f"{path}: edge layer {unknown[0]!r} is not in the edge-set table")
    sets = np.array([set_index[x] for x in names.tolist()], dtype=np.int32)[inverse.ravel()]
    mult = None
    if "multiplicity" in by_name:
        mult = np.array(edge_values[by_name["multiplicity"]], dtype=np.float64).astype(np.int32)
    arrays = edge_arrays(ids[:n], ids[n:], np.array(edge_values[by_name["weight"]], dtype=np.float64),
                         np.array(edge_values[by_name["signed_weight"]], dtype=np.float64), sets, mult)
    if verify and stored is not None:
        digest = ContentHash()
        digest.edges(arrays.src, arrays.dst, arrays.weight, arrays.signed_weight, arrays.edge_set, arrays.multiplicity)
        digest.json(_tables(meta))
        check(path, stored, digest.hexdigest(), verify)
    return rebuild(meta, arrays)
