"""Neural engines on diffusers (docs/engines.md): Wan 2.2/2.1 (``wan.py``) and LTX-Video
distilled (``ltx.py``), from local weights only. torch and diffusers are imported when an
engine loads, never by the API server."""
