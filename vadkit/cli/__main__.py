"""`python -m vadkit.cli`: the vadkit command line."""

import sys

from . import main

sys.exit(main())
