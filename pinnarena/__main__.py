import sys

from pinnarena.cli import main

sys.exit(main())
