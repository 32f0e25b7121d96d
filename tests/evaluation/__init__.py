"""Tests of the zero-shot evaluation harness."""
