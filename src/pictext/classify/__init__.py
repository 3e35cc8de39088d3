"""Classify and tag: the fusion head, calibration, anchors, tag/verify, Table 3 and its plots.

See docs/ARCHITECTURE.md for where this task sits in the data flow.
"""
