"""Platform-neutral use cases. Nothing here imports slack_bolt or botbuilder."""
