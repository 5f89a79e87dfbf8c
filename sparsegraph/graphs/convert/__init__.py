"""In-memory converters (graphs.md §4), all built from a graph's numpy edge columns."""
