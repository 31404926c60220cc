"""Models that leave nnlm: a run as an ONNX sampling step or a transformers GPT-2, and what goes beside."""
