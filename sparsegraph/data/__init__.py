"""sparsegraph.data"""
