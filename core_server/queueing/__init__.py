"""The queueing domain: rooms, queues, tickets, calls and screens."""
