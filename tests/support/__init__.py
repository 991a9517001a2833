"""Test helpers shared by the whole suite (loopback index server, ...)."""
