"""sparsegraph.models"""
