"""sparsegraph.metrics"""
