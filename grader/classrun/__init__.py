"""A class run: intake of LMS downloads, the worker pool, progress, the gradebook."""
