"""photo-tagger: offline photo search and zero-shot tagging with SigLIP 2."""

__version__ = "0.1.0"
