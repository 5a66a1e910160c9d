"""``mpiexec -n P python -m chainrule.distributed train ...`` (see chainrule.distributed.cli)."""

import sys

from .cli import main

sys.exit(main())
