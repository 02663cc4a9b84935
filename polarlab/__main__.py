import sys

from polarlab.cli import main

sys.exit(main())
