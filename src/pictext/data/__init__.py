"""Items, readers, hygiene and splits: the first stage (see docs/ARCHITECTURE.md)."""

from pictext.data.dataset import Dataset
from pictext.data.errors import DatasetNotFoundError, ItemError
from pictext.data.item import Item
from pictext.data.registry import list_datasets, load_dataset

__all__ = ["Dataset", "DatasetNotFoundError", "Item", "ItemError", "list_datasets", "load_dataset"]
