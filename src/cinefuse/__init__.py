"""cinefuse: a self-hosted video generation server speaking the PixVerse V4.5 wire API."""

__version__ = "0.1.0"
