"""heads stage of the pictext pipeline (see DESIGN.md)."""
