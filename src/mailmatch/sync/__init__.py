"""The sync engine: per-folder state, strategy, batched fetch, checkpoints."""
