"""Boards: the catalog (data) and the drivers that build, flash and link to them."""
