"""The data layer: text files in, token ids out (reading, telling lists from running text,
vocabularies, splits, windows; the sources, one per kind of data)."""
