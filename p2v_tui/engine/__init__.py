"""Orchestration: preparing a migration (probe, connect, plan) and executing it."""
