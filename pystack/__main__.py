from pystack.cli import main

raise SystemExit(main())
