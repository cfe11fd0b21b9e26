"""Named imports: what to read, when, and how healthy it is."""
