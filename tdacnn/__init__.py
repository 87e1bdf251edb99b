"""tdacnn: topological data analysis of what convolutional networks learn.

Mapper graphs and persistence barcodes of the 3x3 filters of conv layers
(Gabrielsson & Carlsson), and of natural image patches (Carlsson et al. 2008).
"""

__version__ = "0.1.0"
