"""dxlab-bot runtime: configuration, database, channels (Slack, Teams, web, console) and the CLI."""
