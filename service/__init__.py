"""Transport: the gRPC service around the stance model (servicer, server, client)."""
