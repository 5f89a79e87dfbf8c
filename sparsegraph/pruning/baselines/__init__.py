"""Post-training baselines: IMP with rewinding and unstructured Early-Bird (spec pruning §5)."""
