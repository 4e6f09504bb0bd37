"""The LangChain faces of the router: a Runnable for chains and graphs, agent middleware."""
