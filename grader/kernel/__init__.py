"""The kernel side: contained kernels forked from a warm server, the harness that runs
inside them, and the nbclient driver that hands them jobs."""
