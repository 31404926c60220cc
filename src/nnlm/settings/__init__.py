"""Settings, each declared once: how a setting is declared (declare.py), the training and data
settings (training.py, data.py); each model family declares its own in models/."""

from .declare import Setting, add_flags, check, coerce, from_json, given, setting, settings_of, to_json

__all__ = ["Setting", "add_flags", "check", "coerce", "from_json", "given", "setting", "settings_of",
           "to_json"]
