"""Count-based models: Kneser-Ney and the count bigram, ARPA files, the n-gram baseline, mixtures."""
