"""The agent: diagnoser, policy, approval gate, executor."""
