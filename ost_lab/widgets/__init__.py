"""Notebook widgets (ipywidgets) and Bokeh charts."""
