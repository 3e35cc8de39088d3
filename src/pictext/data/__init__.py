"""data stage of the pictext pipeline (see docs/ARCHITECTURE.md): items, readers, hygiene, splits."""

from pictext.data.dataset import Dataset
from pictext.data.errors import DatasetNotFoundError, ItemError
from pictext.data.item import Item
from pictext.data.registry import list_datasets, load_dataset

__all__ = ["Dataset", "DatasetNotFoundError", "Item", "ItemError", "list_datasets", "load_dataset"]
