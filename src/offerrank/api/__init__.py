"""The read-only HTTP API on the store (`offerrank serve`)."""
