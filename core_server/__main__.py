import sys

from core_server.cli import main

sys.exit(main())
