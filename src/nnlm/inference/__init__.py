"""Using a trained run: its predictor (predictor.py: the model and its n-gram mixture), sampling
(sample.py), evaluating and scoring (evaluate.py), LanguageModel and `load` (lm.py), ensembles of
runs (ensemble.py)."""
