"""The built-in generators; importing this package registers them."""

from sparsegraph.pruning.generators import grasp, magnitude, npb, random, snip, synflow  # noqa: F401
