"""Notebook autograder for the three 'improving deep neural networks' assignments."""
__version__ = "0.1.0"
