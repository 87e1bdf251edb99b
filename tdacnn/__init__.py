"""tdacnn: topological data analysis of what convolutional networks learn.

Mapper graphs and persistence barcodes of the 3x3 filters of conv layers
(Gabrielsson & Carlsson), and of natural image patches (Carlsson et al. 2008).
"""

__version__ = "0.1.0"

__all__ = ["Recorder", "__version__"]


def __getattr__(name: str):
    # ``tdacnn.Recorder`` without importing numpy (or torch) for ``import tdacnn`` alone
    if name == "Recorder":
        from tdacnn.recorder import Recorder

        return Recorder
    raise AttributeError(f"module 'tdacnn' has no attribute {name!r}")
