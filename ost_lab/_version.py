"""The package version, read by the build backend and reported by the server extension."""

__version__ = "0.1.0"
