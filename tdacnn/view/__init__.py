"""tdacnn.view: results as pictures — filter thumbnails, Cytoscape elements, plotly figures.

No Dash callbacks and no topology maths here: each function turns a typed result
(:class:`~tdacnn.topology.graph.MapperGraph`, :class:`~tdacnn.topology.barcode.Barcode`,
an array of angles) into what the app displays.
"""
