"""Fuzz tests: every parser of untrusted input, fed generated and mutated input by hypothesis."""
