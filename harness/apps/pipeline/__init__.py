"""The model maintenance pipeline: collect -> preprocess -> train -> convert.

Each step is a function that reads files and writes files atomically beside a *stamp*
(``<output>.json``): the step's inputs' hashes, its parameters and seed, its outputs'
hashes and the versions that made them. A step whose stamp matches is skipped, so running
the documented sequence twice does no work the second time (and gives the same files).
"""
