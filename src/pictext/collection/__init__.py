"""A collection a person curates: label fixes, review state, added and removed items.

Kept in SQLite (:mod:`pictext.collection.store`), read back as a dataset with the edits
applied (:mod:`pictext.collection.read`, ``load_dataset("collection:PATH")``) and exported
to the manifest and folder formats pictext reads (:mod:`pictext.collection.export`).
"""
