"""`python -m bot` is the same as the `dxlab` command."""

from bot.cli import main

raise SystemExit(main())
