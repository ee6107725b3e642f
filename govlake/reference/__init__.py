"""Reference data read from maintained packages, never hand-typed: admin divisions (GB/T 2260)."""
