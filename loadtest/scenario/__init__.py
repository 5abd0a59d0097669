"""Scenarios: network conditions, scheduled faults and load in one file."""
