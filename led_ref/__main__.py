from led_ref.app.cli import main

raise SystemExit(main())
