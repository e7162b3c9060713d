"""hasy_nb: which CNN works best on HASYv2? A notebook-first course, lab and library."""
__version__ = "0.1.0"
