"""jianyi: the durable workflow engine for deputies' suggestions (人大代表建议)."""
