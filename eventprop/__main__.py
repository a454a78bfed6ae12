from eventprop.cli import main

raise SystemExit(main())
