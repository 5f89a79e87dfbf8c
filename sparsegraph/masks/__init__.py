"""sparsegraph.masks"""
