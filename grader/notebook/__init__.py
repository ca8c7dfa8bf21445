"""The notebook side: read a submission, find its regions, build the code that runs."""
