"""Tables, the lifecycle machine, the deadline policy, the working-day calendar and I/O types."""
