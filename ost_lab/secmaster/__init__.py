"""The securities master: an SQLite file holding instruments, symbology, bars and ticks."""
