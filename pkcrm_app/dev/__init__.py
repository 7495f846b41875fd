"""Development tools: the Cloud API simulator, the customer simulator and the demo seed."""
