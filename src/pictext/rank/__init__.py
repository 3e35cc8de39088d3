"""Similar and divergent images: the triplet ranking head, the index (exact and FAISS),
diversity, ranking metrics and evaluation, and their plots.

See docs/ARCHITECTURE.md for where this task sits in the data flow.
"""
