"""The curated knowledge base: loading, Japanese retrieval and answer selection."""
