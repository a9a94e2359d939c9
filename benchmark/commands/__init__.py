"""Sub-commands of the `resta` command line, one module each."""
