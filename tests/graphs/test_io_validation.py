"""Corrupt graph files are refused (issue #17): npz arrays checked against the metadata, content checksums."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.errors import GraphFileError

FILES = [("pyg", "g.pt"), ("graphml", "g.graphml"), ("edgelist", "g.tsv"), ("edgelist", "g.tsv.gz"),
         ("npz", "g.npz"), ("mtx", "g.mtx")]


def npz_entries(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def write_npz(path, entries) -> None:
    with open(path, "wb") as f:
        np.savez(f, **entries)


def with_meta(entries, edit) -> dict:
    meta = json.loads(str(entries["meta"]))
    edit(meta)
    return {**entries, "meta": np.array(json.dumps(meta))}


def drop_checksum(entries) -> dict:
    return with_meta(entries, lambda meta: meta.pop("checksum"))


def reshuffled_indptr(entries) -> dict:
    """Row lengths permuted: the same total, still monotone, but edges land on other rows."""
    lengths = np.diff(entries["indptr"])
    order = np.random.default_rng(0).permutation(lengths.size)
    while np.array_equal(lengths[order], lengths):
        order = np.roll(order, 1)
    return {**entries, "indptr": np.r_[0, np.cumsum(lengths[order])].astype(np.int64)}


def inconsistent_indptr(entries) -> dict:
    indptr = entries["indptr"].copy()
    indptr[1], indptr[2] = indptr[2] + 5, indptr[1]
    return {**entries, "indptr": indptr}


def huge_offsets(entries) -> dict:
    offsets = entries["offsets"].copy()
    offsets[-1] = 10**15
    return {**entries, "offsets": offsets}


def huge_partition(meta) -> None:
    meta["partitions"][-1]["size"] = 10**15


def huge_edge_count(meta) -> None:
    meta["edge_sets"][0]["num_edges"] = 10**15


def out_of_range_indices(entries) -> dict:
    indices = entries["indices"].copy()
    indices[0] = int(entries["shape"][0]) + 7
    return {**entries, "indices": indices}


def wrong_set_ids(entries) -> dict:
    sets = entries["edge_set"].copy()
    sets[0] = 99
    return {**entries, "edge_set": sets}


def other_weight(entries) -> dict:
    data = entries["data"].copy()
    data[0] = data[0] + 1
    return {**entries, "data": data}


CORRUPTIONS = {
    "missing offsets": (lambda e: {k: v for k, v in e.items() if k != "offsets"}, "missing array(s) offsets"),
    "missing indptr": (lambda e: {k: v for k, v in e.items() if k != "indptr"}, "missing array(s) indptr"),
    "indptr not monotone": (inconsistent_indptr, "indptr must rise monotonically"),
    "indptr too short": (lambda e: {**e, "indptr": e["indptr"][:-1]}, "indptr must be"),
    "indptr wrong total": (lambda e: {**e, "indptr": np.r_[e["indptr"][:-1], e["indptr"][-1] + 3]},
                           "indptr must rise monotonically"),
    "reshuffled indptr": (reshuffled_indptr, "checksum mismatch"),
    "reshuffled indptr, no checksum": (lambda e: drop_checksum(reshuffled_indptr(e)), "joins partitions"),
    "huge offsets": (huge_offsets, "offsets do not match"),
    "huge partition size": (lambda e: with_meta(e, huge_partition), "partition table entry"),
    "huge edge count": (lambda e: with_meta(e, huge_edge_count), "indptr must rise monotonically"),
    "shape": (lambda e: {**e, "shape": np.array([3, 3])}, "shape [3, 3] does not match"),
    "indices out of range": (lambda e: drop_checksum(out_of_range_indices(e)), "column indices outside"),
    "set ids out of range": (lambda e: drop_checksum(wrong_set_ids(e)), "edge-set ids outside"),
    "truncated data": (lambda e: {**e, "data": e["data"][:-1]}, "data has shape"),
    "float indices": (lambda e: {**e, "indices": e["indices"].astype(np.float32)}, "indices has dtype"),
    "partition names": (lambda e: {**e, "partition_names": e["partition_names"][::-1]}, "partition_names"),
    "partition shapes": (lambda e: {**e, "partition_shapes": e["partition_shapes"] + 1}, "partition_shapes"),
    "edited weight": (other_weight, "checksum mismatch"),
    "edited metadata": (lambda e: with_meta(e, lambda m: m.update(model="other")), "checksum mismatch"),
    "malformed checksum": (lambda e: with_meta(e, lambda m: m.update(checksum=3)), "malformed checksum"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corrupt_npz_is_refused(tmp_path, general_graph, name):
    corrupt, message = CORRUPTIONS[name]
    path = tmp_path / "g.npz"
    general_graph.save(path)
    write_npz(path, corrupt(npz_entries(path)))
    with pytest.raises(GraphFileError, match=re.escape(message)) as info:
        sg.load_graph(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_checks_of_the_arrays_do_not_depend_on_the_checksum(tmp_path, layer_graphs):
    path = tmp_path / "g.npz"
    layer_graphs.save(path)
    write_npz(path, huge_offsets(npz_entries(path)))
    with pytest.raises(GraphFileError, match="offsets do not match"):
        sg.load_graph(path, verify=False)


def test_no_verify_reads_an_edited_file(tmp_path, general_graph):
    path = tmp_path / "g.npz"
    general_graph.save(path)
    write_npz(path, other_weight(npz_entries(path)))
    back = sg.load_graph(path, verify=False)
    assert back.num_edges == general_graph.num_edges


@pytest.mark.parametrize("fmt,name", FILES)
def test_every_written_file_carries_a_checksum_and_reads_back(tmp_path, layer_graphs, fmt, name):
    path = tmp_path / name
    layer_graphs.save(path)
    if fmt == "npz":
        stored = json.loads(str(npz_entries(path)["meta"]))["checksum"]
    elif fmt in ("edgelist", "mtx"):
        stored = json.loads((tmp_path / f"{name}.meta.json").read_text())["checksum"]
    elif fmt == "graphml":
        stored = path.read_text().rsplit('<data key="g_checksum">', 1)[1].split("<")[0]
    else:
        import torch

        stored = torch.load(path, weights_only=True)["checksum"]
    assert stored.startswith("sha256:") and len(stored) == 7 + 64
    back = sg.load_graph(path)
    assert "checksum" not in getattr(back, "union", lambda: back)().graph_attributes()
    assert back.num_edges == layer_graphs.num_edges


def edit_text(path, old: str, new: str) -> None:
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="\n") as f:
        text = f.read()
    assert old in text
    with opener(path, "wt", encoding="utf-8", newline="\n") as f:
        f.write(text.replace(old, new, 1))


@pytest.mark.parametrize("name", ["g.tsv", "g.tsv.gz", "g.mtx", "g.graphml"])
def test_edited_text_files_are_refused(tmp_path, general_graph, name):
    path = tmp_path / name
    general_graph.save(path)
    edges = sg.load_graph(path).num_edges
    # swap the first edge's source for another node of the same partition: still a valid graph
    if name.startswith("g.tsv"):
        first = next(line for line in _lines(path)[1:])
        src, rest = first.split("\t", 1)
        edit_text(path, first, f"{int(src) + 1}\t{rest}")
    elif name == "g.mtx":
        first = _lines(path)[3]
        row, rest = first.split(" ", 1)
        edit_text(path, first + "\n", f"{int(row) + 1} {rest}\n")
    else:
        edit_text(path, '<edge source="n0"', '<edge source="n1"')
    with pytest.raises(GraphFileError, match="checksum mismatch"):
        sg.load_graph(path)
    assert sg.load_graph(path, verify=False).num_edges == edges


def _lines(path):
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


@pytest.mark.parametrize("name", ["g.tsv", "g.mtx"])
def test_an_edited_sidecar_is_refused(tmp_path, general_graph, name):
    path = tmp_path / name
    general_graph.save(path)
    side = tmp_path / f"{name}.meta.json"
    payload = json.loads(side.read_text())
    payload["model"] = "something else"
    side.write_text(json.dumps(payload))
    with pytest.raises(GraphFileError, match="checksum mismatch"):
        sg.load_graph(path)


def test_graphml_checksum_survives_a_re_save_but_not_an_edit(tmp_path, general_graph):
    path = tmp_path / "g.graphml"
    general_graph.save(path)
    path.write_text(path.read_text().replace("><data", ">\n  <data"))  # re-indented by another tool
    assert sg.load_graph(path).num_edges == general_graph.num_edges
    text = path.read_text()
    weight = text.split('<data key="e_weight">', 1)[1].split("<", 1)[0]
    path.write_text(text.replace(f'<data key="e_weight">{weight}<', '<data key="e_weight">123.5<', 1))
    with pytest.raises(GraphFileError, match="checksum mismatch"):
        sg.load_graph(path)


def test_pyg_file_edit_is_refused(tmp_path, general_graph):
    import torch

    path = tmp_path / "g.pt"
    general_graph.save(path, homogeneous=True)
    payload = torch.load(path, weights_only=True)
    payload["data"]["edge_weight"][0] += 1
    torch.save(payload, path)
    with pytest.raises(GraphFileError, match="checksum mismatch"):
        sg.load_graph(path)
    assert sg.load_graph(path, verify=False).num_edges == general_graph.num_edges


@pytest.mark.parametrize("fmt,name", FILES)
def test_files_without_a_checksum_still_read(tmp_path, general_graph, fmt, name):
    """Files written before checksums existed (or by other tools) are read, unchecked."""
    path = tmp_path / name
    general_graph.save(path)
    if fmt == "npz":
        write_npz(path, drop_checksum(npz_entries(path)))
    elif fmt in ("edgelist", "mtx"):
        side = tmp_path / f"{name}.meta.json"
        payload = json.loads(side.read_text())
        del payload["checksum"]
        side.write_text(json.dumps(payload))
    elif fmt == "graphml":
        text = path.read_text()
        head, tail = text.rsplit('<data key="g_checksum">', 1)
        path.write_text(head + tail.split("\n", 1)[1])
    else:
        import torch

        payload = torch.load(path, weights_only=True)
        del payload["checksum"]
        torch.save(payload, path)
    assert sg.load_graph(path).num_edges == len({(s, d) for s, d in zip(general_graph.arrays.src.tolist(),
                                                                      general_graph.arrays.dst.tolist())}) \
        if fmt == "mtx" else general_graph.num_edges


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["partitions"][1].update(offset=3), "partition table entry 1"),
    (lambda m: m["partitions"][1].update(size=10**12), "partition table entry 1"),
    (lambda m: m["edge_sets"][0].update(src_partitions=[42]), "edge-set table entry 0"),
    (lambda m: m["edge_sets"][0].update(num_edges=m["edge_sets"][0]["num_edges"] + 1), "edge"),
])
def test_inconsistent_sidecar_tables_are_refused(tmp_path, general_graph, edit, message):
    path = tmp_path / "g.tsv"
    general_graph.save(path)
    side = tmp_path / "g.tsv.meta.json"
    payload = json.loads(side.read_text())
    edit(payload)
    side.write_text(json.dumps(payload))
    with pytest.raises(GraphFileError, match=message):
        sg.load_graph(path, verify=False)


def test_scratch_arrays_reserve_their_blocks(tmp_path, monkeypatch, general_graph):
    """A full disk while the npz/mtx writers build their memory-mapped CSR is an OutputError, not a SIGBUS."""
    import errno
    import os

    calls = []

    def full(fd, offset, length):
        calls.append(length)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    with pytest.raises(sg.errors.OutputError, match="no space left on device"):
        general_graph.save(tmp_path / "g.npz")
    assert calls and list(tmp_path.iterdir()) == []
