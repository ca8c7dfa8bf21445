"""The kernel fork server's process, started apart from the module that drives it.

``grader.kernel.kernels`` imports jupyter_client, NumPy and the harness before it can start
anything; a command that starts the server through it makes the server's own imports
(ipykernel, IPython, NumPy) wait for those. Started from here first, the server imports
while the command does.
"""
from __future__ import annotations

import os
import subprocess
import sys

# Every kernel's environment: hash seed fixed, one BLAS thread, no GUI backend, no debugger chatter.
SERVER_ENV = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg"}


def start_server_process() -> subprocess.Popen:
    """``python -m grader.kernel.kernels serve``, its requests and replies on pipes, for ``ForkServer``."""
    return subprocess.Popen(
        [sys.executable, "-m", "grader.kernel.kernels", "serve"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **SERVER_ENV}, text=True, bufsize=1,
    )
