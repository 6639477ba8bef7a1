"""remat's Python side: the PyTorch importer and the model corpus."""
