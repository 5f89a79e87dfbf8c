"""sparsegraph.topology"""
