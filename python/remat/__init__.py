"""remat's Python side: the PyTorch importer, the model corpus, and the
passes over the C API (remat.compiler)."""
