"""What every task shares: paths, atomic writes, the artifact protocol, the training loop,
run records, the 2-D projection, figure saving and the defaults.

``core`` imports nothing else of pictext (see docs/ARCHITECTURE.md).
"""
