"""The ``sparsegraph`` command line (installed as the ``sparsegraph_cli`` package).

A thin click layer over the library: every command parses options, calls ``sparsegraph`` and
formats the result. No logic of its own lives here.
"""
