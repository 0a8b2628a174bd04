"""Answer generation: backends behind the ``ChatModel`` seam, prompts, refusal, condensing, the chat pipeline."""
