"""The pure core: the result model, student records, the grader–kernel codec, file helpers.

Nothing here imports another part of the grader.
"""
