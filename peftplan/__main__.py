"""`python -m peftplan ...`: the same as the `peftplan` console command."""

import sys

from peftplan.cli import main

sys.exit(main())
