"""Offline demo material: synthetic shape photos and the small SigLIP 2 trained on them."""
