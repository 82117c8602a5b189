from latpred.cli import main

raise SystemExit(main())
