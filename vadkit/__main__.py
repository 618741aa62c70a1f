"""`python -m vadkit`: the vadkit command line."""

import sys

from .cli import main

sys.exit(main())
