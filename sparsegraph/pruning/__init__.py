"""sparsegraph.pruning"""
