"""Pure data and pure functions: no I/O, no subprocess, no system paths."""
