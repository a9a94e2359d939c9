"""Files the tool writes: atomic writes with the umask's modes, output folders it owns, locks, safe names."""
