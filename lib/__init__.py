"""Deep Learning Theory, Executed — the shared library of the book.

One module per concept: ``runtime`` (scale, device, seeding, provenance), ``figures`` (plotly house
style, book renderer, saving), ``claims`` (the claims register), ``datasets`` (every data source),
``runner`` (executes the book), then the science modules used by the chapters.
"""
__version__ = "0.1.0"
