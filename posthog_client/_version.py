"""The package version, importable without pulling in the rest of the package."""

VERSION = "0.1.0"
