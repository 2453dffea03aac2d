from led_ref.cli import main

raise SystemExit(main())
