"""Grading one notebook: the catalog of assignments, expected outputs, the run, the verdict."""
