"""The LangChain-free core: embed benchmark inputs, predict correctness, select and route."""
