"""debatelab."""
