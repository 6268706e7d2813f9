"""The test suite, as packages: a test module's name need only be unique within its folder (it
mirrors the module it tests), and shared helpers import as ``tests.<folder>.<module>``."""
