// An empty source: libRematCompiler.so is its whole archives.
