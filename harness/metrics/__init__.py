"""Comparison metrics between device outputs and references, and the gates that judge them."""
