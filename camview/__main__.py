"""`python -m camview`: the same as the `camview` command."""

import sys

from camview.cli import main

sys.exit(main())
