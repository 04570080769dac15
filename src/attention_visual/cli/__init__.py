"""The `attention-visual` command line."""
