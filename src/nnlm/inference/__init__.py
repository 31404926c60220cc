"""Using a trained model: evaluate, sample, score; a run's predictor (LanguageModel)."""
