"""Everything one API call touches: endpoint, credentials, session, request, handler,
middleware, pacing, quota, tokens and the CLI's client."""
