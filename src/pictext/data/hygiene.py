"""Text hygiene: take the answer out of the text before evaluating a classifier.

Many items name their class in the title or tags (66% of openclipart). A text model that
reads "animals" in the tags of an item of class ``animals`` learns nothing about images or
language. :func:`strip_label_words` removes every word of every class name and folder name
(label and fine label vocabulary across the dataset, and the extra names a reader gives a
class in :attr:`Dataset.label_words`: WebVision's synset synonyms and search queries) from
title, description and tags. :func:`label_leakage` measures how much of an item's own label
its text holds, before and after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from pictext.data.dataset import Dataset
from pictext.data.item import TEXT_FIELDS, Item

_SPLIT = re.compile(r"[\s_\-/&,.;:()+]+")
_MIN_LEN = 2  # one-letter "words" of a folder name ("a", "b") are too generic to remove


def label_vocabulary(dataset: Dataset) -> set[str]:
    """Lower-case words of every label, fine label and extra class name (``label_words``),
    split on ``_``, ``-``, spaces, ..."""
    names = [*dataset.classes]
    for item in dataset.items:
        names += [n for n in (item.label, item.fine_label) if n]
    for extra in dataset.label_words.values():
        names += extra
    return {w for name in set(names) for w in _words(name)}


def _words(name: str) -> Iterable[str]:
    return (w for w in _SPLIT.split(name.lower()) if len(w) >= _MIN_LEN and not w.isdigit())


def word_forms(word: str) -> set[str]:
    """A word and its simple singular/plural forms (``box``/``boxes``, ``city``/``cities``)."""
    forms = {word}
    if word.endswith("ies") and len(word) > 4:
        forms.add(word[:-3] + "y")
    elif word.endswith(("ses", "xes", "zes", "ches", "shes")):
        forms.add(word[:-2])
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.add(word[:-1])
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(word + "es")
    else:
        forms.add(word + "s")
    return forms


def label_pattern(vocabulary: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive regex matching any form of any vocabulary word as a whole word.

    ``_`` and ``-`` count as word boundaries, so ``north_america`` loses ``america``.
    """
    forms = sorted({f for w in vocabulary for f in word_forms(w)}, key=len, reverse=True)
    if not forms:
        return None
    alternation = "|".join(re.escape(f) for f in forms)
    return re.compile(rf"(?<![^\W_])(?:{alternation})(?![^\W_])", re.IGNORECASE)


def strip_text(text: str, pattern: re.Pattern[str] | None) -> str:
    """The text with every match removed and the left-over separators tidied."""
    if pattern is None or not text:
        return text
    out = pattern.sub(" ", text)
    out = re.sub(r"[_\-]{2,}|(?<=\s)[_\-]+|[_\-]+(?=\s)|^[_\-]+|[_\-]+$", " ", out)
    out = re.sub(r"\s+([.,;:!?])", r"\1", out)
    out = " ".join(out.split())
    return "" if not re.search(r"\w", out) else out


def strip_label_words(dataset: Dataset) -> Dataset:
    """A copy of the dataset whose title, description and tags hold no label words.

    Tags that become empty are dropped. Labels, ids and images are unchanged.

    Example:
        >>> from pictext.data.item import Item
        >>> ds = Dataset("t", [Item("1", title="Two Dogs", tags=("dog", "pet"), label="dog")])
        >>> strip_label_words(ds).items[0].title, strip_label_words(ds).items[0].tags
        ('Two', ('pet',))
    """
    pattern = label_pattern(label_vocabulary(dataset))
    items = []
    for item in dataset.items:
        tags = tuple(t for t in (strip_text(t, pattern) for t in item.tags) if t)
        items.append(
            replace(
                item,
                title=strip_text(item.title, pattern),
                description=strip_text(item.description, pattern),
                tags=tags,
            )
        )
    return dataset.with_items(items)


def label_leakage(dataset: Dataset) -> dict[str, dict[str, float]]:
    """Share of items whose text holds a word of their *own* label, per field.

    A word counts as :func:`strip_label_words` would remove it (whole words, simple
    plural/singular forms). Two vocabularies per item:

    - ``fine_label``: the words of the item's fine label (WebVision: the search query that
      found the image, which its title was retrieved by);
    - ``class``: those and the words of its label and of its class's extra names
      (``Dataset.label_words``: synset synonyms, the class's other queries).

    Returns:
        ``{"fine_label": {field: share}, "class": {field: share}}`` for the fields
        ``title``, ``description``, ``tags`` and ``text`` (any of them); shares in [0, 1].
    """
    fields = (*TEXT_FIELDS, "text")
    counts = {v: dict.fromkeys(fields, 0) for v in ("fine_label", "class")}
    patterns: dict[tuple[str | None, str | None], dict[str, re.Pattern[str] | None]] = {}
    for item in dataset.items:
        key = (item.label, item.fine_label)
        if key not in patterns:
            fine = set(_words(item.fine_label or ""))
            names = [item.label or "", *dataset.label_words.get(item.label or "", ())]
            own = fine | {w for n in names for w in _words(n)}
            patterns[key] = {"fine_label": label_pattern(fine), "class": label_pattern(own)}
        texts = {f: _field_text(item, f) for f in TEXT_FIELDS}
        for v, pattern in patterns[key].items():
            if pattern is None:
                continue
            hits = {f: bool(t) and pattern.search(t) is not None for f, t in texts.items()}
            for f, hit in hits.items():
                counts[v][f] += hit
            counts[v]["text"] += any(hits.values())
    n = max(len(dataset), 1)
    return {v: {f: c / n for f, c in per.items()} for v, per in counts.items()}


def _field_text(item: Item, name: str) -> str:
    return "\n".join(item.tags) if name == "tags" else item.field_text(name)
