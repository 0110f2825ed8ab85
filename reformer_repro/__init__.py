"""reformer_repro: a tested, documented reproduction of "Reformer: The Efficient Transformer" (Kitaev, Kaiser,
Levskaya, ICLR 2020) in PyTorch: LSH attention with shared QK, reversible residual layers, chunked feed-forward
and axial positions; the models, the paper's data (the duplication task, enwik8), training, evaluation and the
`reformer-repro` command line. It runs on a laptop CPU at small size and on a GPU at full size.

The modules are written in the notebooks in nbs/ (nbdev): core, tokenizers, data, attention, reversible, layers,
models, runs, distributed, evaluation, training, experiments, cli. This docstring is kept by nbdev_export, which
only rewrites the __version__ line below.
"""
__version__ = "0.1.0"
