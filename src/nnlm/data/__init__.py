"""The data layer: text files in, token ids out (reading, vocabularies, splits, windows, sources)."""
