"""Entry point of a local worker process: ``python -m tidal._worker_process ADDRESS``.

Kept outside ``tidal.runtime`` so that running it never imports the worker module twice.
"""

import sys

from tidal.runtime._worker import worker_main

if __name__ == "__main__":
    worker_main(sys.argv[1])
