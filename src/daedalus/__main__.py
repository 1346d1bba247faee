from daedalus.cli import main

raise SystemExit(main())
