"""Weights from a model hub: the catalogue of folders cinefuse knows, and pulling, checking
and removing them under ``CINEFUSE_MODELS_DIR`` (``cinefuse models``, docs/models.md)."""
