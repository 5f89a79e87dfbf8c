"""NPB, Node-Path Balancing (Pham et al., NeurIPS 2023): layer-wise exact MILPs balancing effective paths
against effective nodes (spec pruning §2 ``npb``). ``sparsegraph.pruning.generators.npb`` registers it."""
