"""Channel adapters: translate platform payloads to the neutral model and render Replies."""
