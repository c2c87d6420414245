"""Classical reference solvers; each module states its method and is verified by a test."""
