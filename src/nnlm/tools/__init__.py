"""Tools over runs and data: hyper-parameter sweeps, the lr finder, pictures, looking inside a model."""
