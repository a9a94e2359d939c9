"""Weight-space re-alignment: safety vectors, RESTA, DARE and comparison methods, streamed tensor by tensor."""
