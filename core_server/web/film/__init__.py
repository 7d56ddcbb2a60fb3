"""Film pages and API: print jobs, printers, and film quality grades."""
