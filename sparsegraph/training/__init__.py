"""sparsegraph.training"""
