from hub.runtime.cli import main

raise SystemExit(main())
