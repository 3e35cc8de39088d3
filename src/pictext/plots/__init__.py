"""plots stage of the pictext pipeline (see DESIGN.md)."""
