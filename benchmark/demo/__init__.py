"""The offline demo (`resta demo`): the RESTA paper's experiment in miniature, on tiny models it trains."""
