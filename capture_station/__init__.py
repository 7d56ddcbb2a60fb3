"""See README.md: built by a later issue."""
