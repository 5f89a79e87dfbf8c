"""Version of the sparsegraph package."""

__version__ = "0.1.0"
