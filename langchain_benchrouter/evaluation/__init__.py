"""The evaluation harness (leave-one-task-out, random splits) and its figures."""
