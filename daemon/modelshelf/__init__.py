"""modelshelf: keep AI model files in one verified, deduplicated library."""

__version__ = "0.1.0"
