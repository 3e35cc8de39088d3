"""Evaluation runners: the study's Table 3 and the missing-input table (see DESIGN.md)."""
